import { agendas } from './agendas.js';
import { commun } from './commun.js';
import { conflits } from './conflits.js';
import { connexion } from './connexion.js';
import { consignes } from './consignes.js';
import { journal } from './journal.js';
import { lettresMortes } from './lettres-mortes.js';
import { liaisons } from './liaisons.js';
import { messages } from './messages.js';
import { profils } from './profils.js';
import { rapports } from './rapports.js';
import { reglesAgenda } from './regles-agenda.js';
import { schemaForm } from './schema-form.js';
import { tableau } from './tableau.js';

export const fr = {
  commun,
  connexion,
  tableau,
  liaisons,
  schemaForm,
  messages,
  profils,
  conflits,
  lettresMortes,
  agendas,
  rapports,
  journal,
  reglesAgenda,
  consignes,
};
