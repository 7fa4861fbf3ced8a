import { agendas } from './agendas.js';
import { commun } from './commun.js';
import { conflits } from './conflits.js';
import { connexion } from './connexion.js';
import { lettresMortes } from './lettres-mortes.js';
import { liaisons } from './liaisons.js';
import { schemaForm } from './schema-form.js';
import { tableau } from './tableau.js';

export const fr = { commun, connexion, tableau, conflits, lettresMortes, liaisons, schemaForm, agendas };
