/**
 * Every console page in real Chromium against ONE demo world and ONE browser (a world costs
 * ≈ 10–20 s to start and its demo traffic loads the machine while it lives). Each page's tests
 * are a module of test/console/pages/<page>.ts, named as the page's file in console/pages/,
 * exporting `<page>Page(suite)` which registers its describe here. Run one page with
 * `npm run jest -- test/console/console.browser.test.ts -t '<its describe name>'`.
 *
 * Pages share the world's data: each test finds what it made by its own ids or tags, never by
 * counting what the others left. A page that breaks the world for those after it (a stopped
 * practice-software peer) comes last; one that needs another configuration has its own file
 * and world (oidc.browser.test.ts).
 */
import { consoleSuite } from '../helpers/console-suite.js';
import { agendasPage } from './pages/agendas.js';
import { conflitsPage } from './pages/conflits.js';
import { connexionPage } from './pages/connexion.js';
import { consignesPage } from './pages/consignes.js';
import { journalPage } from './pages/journal.js';
import { lettresMortesPage } from './pages/lettres-mortes.js';
import { liaisonsPage } from './pages/liaisons.js';
import { messagesPage } from './pages/messages.js';
import { profilsPage } from './pages/profils.js';
import { rapportsPage } from './pages/rapports.js';
import { reglesAgendaPage } from './pages/regles-agenda.js';
import { tableauDeBordPage } from './pages/tableau-de-bord.js';

const suite = consoleSuite();

connexionPage(suite);
// Profils first of the pages that change a link's mapping: its history starts at the version it stores.
profilsPage(suite);
messagesPage(suite);
journalPage(suite);
rapportsPage(suite);
agendasPage(suite);
lettresMortesPage(suite);
conflitsPage(suite);
// After the pages that sync with the FHIR practice software: adds a second (test) link to its practice.
liaisonsPage(suite);
consignesPage(suite);
// Sets one HL7 practitioner's rules: the demo's bookings outside them are refused from here on.
reglesAgendaPage(suite);
// Add a new page above this line.
// Last: stops the FHIR practice software's server for good (a link turning red).
tableauDeBordPage(suite);
