import { commun } from './commun.js';
import { connexion } from './connexion.js';
import { journal } from './journal.js';
import { rapports } from './rapports.js';
import { tableau } from './tableau.js';

export const fr = { commun, connexion, tableau, rapports, journal };
