/**
 * The peers the demo plays, in the same process as passerelle, each on its own 127.0.0.1 port:
 * one secretariat platform simulator per practice (each keeps its state in a JSON file), the
 * FHIR peer as the first practice's software (its resources saved to a JSON file), and the HL7
 * simulator as the second practice's software. Everything lives under the demo directory, so
 * a restart carries on where the last run stopped.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

import type { Resource } from '@medplum/fhirtypes';

import { type FhirPeer, startFhirPeer } from '../../connectors/fhir/peer/index.js';
import { Hl7Simulator, type ReceivedHl7 } from '../../connectors/hl7v2/simulator/index.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../connectors/secretariat/simulator/index.js';
import { PasserelleError } from '../errors.js';
import { generateWebhookSecret } from '../security/webhook-signature.js';
import { freePort } from '../util/free-port.js';
import { DEMO_PRACTICES, fhirPracticeSeed } from './demo-data.js';

/** What the demo remembers between runs (in `<dir>/demo-state.json`; the directory is local and gitignored). */
export interface DemoState {
  /** Day the demo data starts from (ISO), fixed at the first run. */
  readonly day0: string;
  readonly webhookSecrets: { readonly fhir: string; readonly hl7: string };
  /** The demo's admin key, so each start can print it again (a real deployment never stores it). */
  adminKey?: string;
  /** iCal feed URLs' tokens by practitioner canonical id (shown at each start, demo only). */
  feeds: Record<string, { practiceKey: string; label: string; token: string }>;
  hl7Seeded?: boolean;
}

export function loadDemoState(dir: string, now: Date): DemoState {
  const file = join(dir, 'demo-state.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoState;
  return {
    day0: now.toISOString(),
    webhookSecrets: { fhir: generateWebhookSecret(), hl7: generateWebhookSecret() },
    feeds: {},
  };
}

export function saveDemoState(dir: string, state: DemoState): void {
  writeJsonAtomically(join(dir, 'demo-state.json'), state);
}

function writeJsonAtomically(file: string, value: unknown): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

/**
 * Ports of the demo: passerelle's HTTP port + 1…5 (8081-8085 by default), or any free ports
 * when passerelle's own port is 0 (tests).
 */
export interface DemoPorts {
  readonly secretariatFhir: number;
  readonly secretariatHl7: number;
  readonly fhirPeer: number;
  readonly hl7Simulator: number;
  /** passerelle's MLLP listener for the HL7 practice. */
  readonly mllpListener: number;
}

export async function demoPorts(httpPort: number): Promise<DemoPorts> {
  if (httpPort === 0) {
    return {
      secretariatFhir: 0,
      secretariatHl7: 0,
      fhirPeer: 0,
      hl7Simulator: 0,
      mllpListener: await freePort(),
    };
  }
  return {
    secretariatFhir: httpPort + 1,
    secretariatHl7: httpPort + 2,
    fhirPeer: httpPort + 3,
    hl7Simulator: httpPort + 4,
    mllpListener: httpPort + 5,
  };
}

/** Whether another program holds `port` on `host` (what listening there would fail with). */
function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/**
 * Refuses to start when one of the demo's ports (passerelle's HTTP port and the next five) is
 * taken, in French, naming the port and how to move the demo (PASSERELLE_HTTP_PORT); nothing
 * is started or created before. Port 0 picks free ports: nothing to check.
 */
export async function assertDemoPortsFree(host: string, httpPort: number): Promise<void> {
  if (httpPort === 0) return;
  for (let port = httpPort; port <= Math.min(httpPort + 5, 65_535); port++) {
    const on = port === httpPort ? host : '127.0.0.1';
    if (await portInUse(on, port))
      throw new PasserelleError(
        'ERR_HTTP_LISTEN_FAILED',
        `le port ${port} est déjà pris sur ${on} (par un autre programme, ou une démonstration déjà lancée) ; ` +
          `la démonstration utilise les ports ${httpPort} à ${httpPort + 5} : lancez-la sur d'autres ports avec ` +
          `PASSERELLE_HTTP_PORT, par exemple PASSERELLE_HTTP_PORT=9000 npm start (ports 9000 à 9005), ` +
          `ou PASSERELLE_HTTP_PORT=0 npm start (des ports libres au hasard)`,
      );
  }
}

export interface DemoWorld {
  readonly secretariat: { readonly fhir: SecretariatSimulator; readonly hl7: SecretariatSimulator };
  readonly fhirPeer: FhirPeer;
  readonly hl7: Hl7Simulator;
  /** Writes the FHIR peer's resources to disk (also done every few seconds and at close). */
  saveFhirPeer(): void;
  close(): Promise<void>;
}

export interface DemoWorldOptions {
  readonly dir: string;
  readonly state: DemoState;
  readonly ports: DemoPorts;
  readonly onHl7Message?: (m: ReceivedHl7) => void;
}

/** Starts the peers; on failure, stops those already started. */
export async function startDemoWorld(options: DemoWorldOptions): Promise<DemoWorld> {
  const { dir, state, ports } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const closers: Array<() => Promise<void>> = [];
  try {
    const secretariat = async (key: 'fhir' | 'hl7', port: number) => {
      const sim = await startSecretariatSimulator({
        port,
        host: '127.0.0.1',
        seed: 'empty',
        practiceId: DEMO_PRACTICES[key].platformPracticeId,
        stateFile: join(dir, `secretariat-${key}.json`),
      });
      closers.push(() => sim.close());
      return sim;
    };
    const secFhir = await secretariat('fhir', ports.secretariatFhir);
    const secHl7 = await secretariat('hl7', ports.secretariatHl7);

    const peerFile = join(dir, 'fhir-peer.json');
    const fhirPeer = await startFhirPeer({ port: ports.fhirPeer, host: '127.0.0.1' });
    closers.push(() => fhirPeer.close());
    await fhirPeer.seed(
      existsSync(peerFile)
        ? (JSON.parse(readFileSync(peerFile, 'utf8')) as Resource[])
        : fhirPracticeSeed(new Date(state.day0)),
    );
    const saveFhirPeer = () => writeJsonAtomically(peerFile, fhirPeer.repo.allResources());
    saveFhirPeer();
    // The peer keeps its resources in memory; a crash loses at most these few seconds.
    const saver = setInterval(saveFhirPeer, 5000);
    saver.unref();
    closers.push(async () => {
      clearInterval(saver);
      saveFhirPeer();
    });

    const hl7 = await Hl7Simulator.start({
      port: ports.hl7Simulator,
      host: '127.0.0.1',
      ...(options.onHl7Message && { onMessage: options.onHl7Message }),
    });
    closers.push(() => hl7.close());

    let closed: Promise<void> | undefined;
    return {
      secretariat: { fhir: secFhir, hl7: secHl7 },
      fhirPeer,
      hl7,
      saveFhirPeer,
      close() {
        closed ??= (async () => {
          for (const close of closers.reverse()) await close().catch(() => undefined);
        })();
        return closed;
      },
    };
  } catch (e) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw e;
  }
}
