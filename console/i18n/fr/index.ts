import { commun } from './commun.js';
import { connexion } from './connexion.js';
import { messages } from './messages.js';
import { profils } from './profils.js';
import { tableau } from './tableau.js';

export const fr = { commun, connexion, tableau, messages, profils };
