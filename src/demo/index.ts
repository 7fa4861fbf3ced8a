/**
 * `passerelle serve --demo`: passerelle on an embedded SQLite store under the demo directory,
 * with, in the same process, the peers of two fictitious practices (demo-world.ts), connected
 * through the admin API (demo-setup.ts), and traffic at a watchable pace (traffic.ts). The
 * console speaks French (practice staff read it); the JSON logs go to `<dir>/passerelle.log`,
 * and each warning or error also to the console as one French line (console.ts).
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';

import type { ReceivedHl7 } from '../../connectors/hl7v2/simulator/index.js';
import { seededRandom } from '../../connectors/secretariat/simulator/prng.js';
import type { SyncModule } from '../app/features/sync.js';
import { defaultModules } from '../app/modules.js';
import { type RunningService, startService } from '../app/service.js';
import type { Config } from '../config/schema.js';
import { feedUrl } from '../ical/feed-token.js';
import { createLogger, type Logger } from '../log/logger.js';
import { createApiKey } from '../security/api-keys.js';
import { VERSION } from '../util/version.js';
import { type ConsoleLine, consoleLineOf, type LogEntry } from './console.js';
import { DEMO_PRACTICES, type DemoPracticeKey, hl7InitialMessages } from './demo-data.js';
import { AdminClient, linkIds, setUpDemoPractices } from './demo-setup.js';
import {
  assertDemoPortsFree,
  demoPorts,
  type DemoState,
  type DemoWorld,
  loadDemoState,
  saveDemoState,
  startDemoWorld,
} from './demo-world.js';
import { DemoTraffic } from './traffic.js';

export const DEFAULT_DEMO_DIR = './data/demo';

export interface DemoOptions {
  readonly config: Config;
  /** Where the demo keeps everything (store, peers' state); `PASSERELLE_DEMO_DIR` or ./data/demo. */
  readonly dir: string;
  /** Console lines (French). */
  readonly print: (line: string) => void;
  readonly now?: () => number;
}

export interface RunningDemo {
  readonly service: RunningService;
  readonly world: DemoWorld;
  stop(): Promise<void>;
}

/**
 * JSON log lines to the demo's log file; each warning or error also as one French console line
 * (console.ts): a note of a normal start on stdout, a warning on stderr.
 */
function demoLogger(
  dir: string,
  level: Config['log']['level'],
  print: (line: string, kind: ConsoleLine['kind']) => void,
): { logger: Logger; close: () => Promise<void> } {
  const logFile = resolve(dir, 'passerelle.log');
  const file = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  let open = true;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!/"level":"(warn|error)"/.test(line)) continue;
        let entry: LogEntry;
        try {
          entry = JSON.parse(line) as LogEntry;
        } catch {
          continue;
        }
        const shown = consoleLineOf(entry, logFile);
        if (shown) print(shown.text, shown.kind);
      }
      // A line logged while stopping, after the file closed, still reaches the console if it matters.
      if (open) file.write(chunk, done);
      else done();
    },
  });
  const close = () =>
    new Promise<void>((r) => {
      open = false;
      file.end(r);
    });
  return { logger: createLogger({ level, stream: sink }), close };
}

async function until<T>(check: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One iCal feed per practitioner of each practice, created once (its token kept in the demo state). */
async function ensureFeeds(service: RunningService, api: AdminClient, state: DemoState): Promise<void> {
  for (const key of ['fhir', 'hl7'] as const) {
    const practiceId = DEMO_PRACTICES[key].id;
    // Practitioners arrive with the first poll (FHIR) or the first messages (HL7): wait a little.
    const practitioners = await until(async () => {
      const found = await service.store.resources.list({ practiceId, kind: 'Practitioner' });
      return found.length >= 2 ? found : undefined;
    }, 30_000);
    for (const p of practitioners ?? []) {
      if (state.feeds[p.id]) continue;
      const name = (p.data['name'] as { family?: string; given?: string[] }[] | undefined)?.[0];
      const label = `Dr ${name?.given?.[0] ?? ''} ${name?.family ?? p.id}`.replace(/ +/g, ' ');
      const issued = await api.expect<{ url: string }>(201, 'POST', '/api/v1/ical/tokens', {
        practiceId,
        practitionerId: p.id,
        privacy: 'initials',
        label: `Démo — ${label}`,
      });
      const token = /\/ical\/([^/]+)\.ics$/.exec(issued.url)?.[1];
      if (token) state.feeds[p.id] = { practiceKey: key, label, token };
    }
  }
}

function banner(
  print: (line: string) => void,
  service: RunningService,
  world: DemoWorld,
  state: DemoState,
  adminKey: string,
  mllpPort: number,
  dir: string,
  notes: readonly string[],
): void {
  const url = service.url;
  print('');
  print(`passerelle ${VERSION} — mode démonstration (données fictives, magasin SQLite : ${dir})`);
  print(`  console : ${url}/console/   (connexion avec la clé d'administration ci-dessous)`);
  print(`  API d'administration : ${url}/api/v1   (documentation : ${url}/api/v1/openapi.json)`);
  print(`  clé d'administration : ${adminKey}`);
  print(`    essai : curl -H "Authorization: Bearer ${adminKey}" ${url}/api/v1/practices`);
  print(`  métriques : ${url}/metrics    santé : ${url}/healthz`);
  print('  agendas iCal (à ajouter par URL dans Google Agenda, Calendrier Apple, Outlook, Thunderbird…) :');
  for (const [key, label] of [
    ['fhir', DEMO_PRACTICES.fhir.label],
    ['hl7', DEMO_PRACTICES.hl7.label],
  ] as const) {
    for (const f of Object.values(state.feeds).filter((x) => x.practiceKey === key))
      print(`    ${label} — ${f.label} : ${feedUrl(url, f.token)}`);
  }
  print('  simulateurs :');
  for (const key of ['fhir', 'hl7'] as const) {
    const sim = world.secretariat[key];
    print(
      `    télésecrétariat du ${DEMO_PRACTICES[key].label} : ${sim.url}/v1/practices/${sim.practiceId}   (jeton : ${sim.apiToken})`,
    );
  }
  print(`    logiciel du cabinet FHIR (serveur FHIR R4) : ${world.fhirPeer.url}`);
  print(
    `    logiciel du cabinet HL7 (MLLP) : mllp://127.0.0.1:${world.hl7.port}   → passerelle écoute en MLLP sur 127.0.0.1:${mllpPort}`,
  );
  for (const note of notes) print(`  ${note}`);
  print(`  journaux JSON : ${resolve(dir, 'passerelle.log')}    arrêt : Ctrl-C`);
  print('');
}

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  // Before anything is created: a port another program holds is named, with how to move the demo.
  await assertDemoPortsFree(options.config.http.host, options.config.http.port);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = options.now ?? Date.now;
  // The demo always runs on its own SQLite file, whatever store the config names.
  const config: Config = {
    ...options.config,
    store: { ...options.config.store, driver: 'sqlite', sqlite: { path: resolve(dir, 'passerelle.db') } },
  };
  // Notes of the start (keys created) are printed in the banner; later lines as they come.
  const notes: string[] = [];
  let started = false;
  const { logger, close: closeLog } = demoLogger(dir, config.log.level, (line, kind) => {
    if (kind === 'warning') process.stderr.write(`${line}\n`);
    else if (started) options.print(line);
    else notes.push(line);
  });
  const state = loadDemoState(dir, new Date(now()));
  const ports = await demoPorts(config.http.port);
  const tagOf = (key: DemoPracticeKey) => `[${DEMO_PRACTICES[key].label}]`;
  const time = () => new Date(now()).toLocaleTimeString('fr-FR', { timeZone: 'Europe/Paris' });
  const event = (line: string) => options.print(`${time()} ${line}`);

  const onHl7 = (m: ReceivedHl7) =>
    event(
      `${tagOf('hl7')} le logiciel du cabinet reçoit ${m.messageType ?? 'un message'} de passerelle (réponse ${m.answered ?? 'aucune'})`,
    );
  const world = await startDemoWorld({ dir, state, ports, onHl7Message: onHl7 });
  let service: RunningService | undefined;
  let traffic: DemoTraffic | undefined;
  const stop = async () => {
    await traffic?.stop();
    await service?.stop();
    await world.close();
    saveDemoState(dir, state);
    await closeLog();
  };
  try {
    const modules = defaultModules();
    service = await startService({ config, logger, modules, now });
    const adminKey =
      service.bootstrapKey ??
      state.adminKey ??
      (await createApiKey(service.store, { role: 'admin', label: 'demo', createdBy: 'demo', via: 'serve' }))
        .key;
    state.adminKey = adminKey;
    saveDemoState(dir, state);
    const api = new AdminClient(service.url, adminKey);
    await setUpDemoPractices(api, world, state, ports);
    // Start the links now (or restart them on the peers' new addresses) rather than at the next refresh.
    const sync = modules.find((m): m is SyncModule => m.name === 'sync' && 'runtimeOf' in m);
    await sync?.runtimeOf(service.context).refresh();
    // The runtime picks new links up on its own refresh; wait until the HL7 listener answers.
    const target = { host: '127.0.0.1', port: ports.mllpListener };
    if (!state.hl7Seeded) {
      const sent = await until(async () => {
        // Until the sync runtime has started the link's listener, connecting fails.
        const results = await world.hl7.send(target, hl7InitialMessages(new Date(state.day0)));
        return results.some((r) => r.result === 'ERR_MLLP_CONNECTION') ? undefined : results;
      }, 30_000);
      if (!sent)
        throw new Error(`demo: passerelle's MLLP listener (127.0.0.1:${ports.mllpListener}) did not answer`);
      const refused = sent.filter((s) => s.result !== 'AA');
      if (refused.length > 0)
        logger.warn('demo: initial HL7 messages not applied', {
          refused: refused.map((s) => `${s.controlId}:${s.result}`),
        });
      state.hl7Seeded = true;
    }
    await ensureFeeds(service, api, state);
    saveDemoState(dir, state);
    banner(options.print, service, world, state, adminKey, ports.mllpListener, options.dir, notes);
    started = true;

    // Refusals are the agenda invariant at work (design rule 8): worth a line on the console.
    for (const key of ['fhir', 'hl7'] as const) {
      world.secretariat[key].events.on('change', (c) => {
        if (c.type === 'appointment' && c.data['status'] === 'refused' && c.origin === 'integration') {
          const refusal = c.data['refusal'] as { message?: string } | null;
          event(
            `${tagOf(key)} passerelle refuse un RDV au secrétariat : ${refusal?.message ?? 'créneau indisponible'}`,
          );
        }
      });
    }
    traffic = new DemoTraffic({
      secretariat: world.secretariat,
      fhirPeer: world.fhirPeer,
      hl7: world.hl7,
      mllp: target,
      random: seededRandom(now()),
      onEvent: event,
      log: logger.child({ component: 'demo-traffic' }),
      now,
    });
    traffic.start();
    logger.info('demo started', {
      dir,
      links: Object.values(linkIds('fhir')).concat(Object.values(linkIds('hl7'))),
    });
    return { service, world, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
