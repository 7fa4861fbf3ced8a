import { commun } from './commun.js';
import { conflits } from './conflits.js';
import { connexion } from './connexion.js';
import { journal } from './journal.js';
import { lettresMortes } from './lettres-mortes.js';
import { messages } from './messages.js';
import { profils } from './profils.js';
import { rapports } from './rapports.js';
import { tableau } from './tableau.js';

export const fr = {
  commun,
  connexion,
  tableau,
  conflits,
  lettresMortes,
  messages,
  profils,
  rapports,
  journal,
};
