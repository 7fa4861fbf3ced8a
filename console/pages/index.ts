/**
 * The console's pages: one entry each (its address, its title in the catalogue, the role it
 * needs, whether the navigation lists it). A page a role may not use is neither listed nor shown.
 */
import { Feeds } from './agendas.js';
import { ConflictsPage } from './conflits.js';
import { ConsignesPage } from './consignes.js';
import { AuditJournal } from './journal.js';
import { DeadLettersPage } from './lettres-mortes.js';
import { LinkDetail, Links } from './liaisons.js';
import { MessagePage, Messages } from './messages.js';
import { ProfilePage, Profiles } from './profils.js';
import { Reports } from './rapports.js';
import { AgendaRulesPage } from './regles-agenda.js';
import { Dashboard } from './tableau-de-bord.js';
import type { PageDef } from './types.js';

export type { PageDef, PageProps } from './types.js';

// In the order of the navigation, which follows a person's tasks (issue 19).
export const PAGES: readonly PageDef[] = [
  { path: '/', title: 'tableau.titre', role: 'viewer', nav: true, component: Dashboard },
  { path: '/liaisons', title: 'liaisons.titre', role: 'viewer', nav: true, component: Links },
  { path: '/liaisons/:id', title: 'liaisons.titreDetail', role: 'viewer', nav: false, component: LinkDetail },
  { path: '/messages', title: 'messages.titre', role: 'viewer', nav: true, component: Messages },
  { path: '/messages/:id', title: 'messages.titre', role: 'viewer', nav: false, component: MessagePage },
  { path: '/profils', title: 'profils.titre', role: 'viewer', nav: true, component: Profiles },
  { path: '/profils/:linkId', title: 'profils.titre', role: 'viewer', nav: false, component: ProfilePage },
  { path: '/conflits', title: 'conflits.titre', role: 'viewer', nav: true, component: ConflictsPage },
  {
    path: '/lettres-mortes',
    title: 'lettresMortes.titre',
    role: 'viewer',
    nav: true,
    component: DeadLettersPage,
  },
  { path: '/agendas', title: 'agendas.titre', role: 'integrator', nav: true, component: Feeds },
  { path: '/rapports', title: 'rapports.titre', role: 'viewer', nav: true, component: Reports },
  { path: '/journal', title: 'journal.titre', role: 'integrator', nav: true, component: AuditJournal },
  {
    path: '/regles-agenda',
    title: 'reglesAgenda.titre',
    role: 'viewer',
    nav: true,
    component: AgendaRulesPage,
  },
  { path: '/consignes', title: 'consignes.titre', role: 'viewer', nav: true, component: ConsignesPage },
];
