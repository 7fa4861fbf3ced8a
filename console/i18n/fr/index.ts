import { commun } from './commun.js';
import { connexion } from './connexion.js';
import { tableau } from './tableau.js';

export const fr = { commun, connexion, tableau };
