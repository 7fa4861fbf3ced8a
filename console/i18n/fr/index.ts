import { agendas } from './agendas.js';
import { commun } from './commun.js';
import { connexion } from './connexion.js';
import { liaisons } from './liaisons.js';
import { schemaForm } from './schema-form.js';
import { tableau } from './tableau.js';

export const fr = { commun, connexion, tableau, liaisons, schemaForm, agendas };
