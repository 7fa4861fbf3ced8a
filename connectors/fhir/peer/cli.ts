import { type FhirPeer, startFhirPeer } from './fhir-peer.js';
import { demoPractice, generatePatients } from './seed.js';

export interface FhirPeerCliOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host?: string;
  /** `demo` (default): a small practice (see demoPractice); `none`: empty. */
  readonly seed?: 'demo' | 'none';
  /** Extra fictitious patients to load (e.g. 100000 for the paging benchmark). */
  readonly patients?: number;
  /** Clock for the demo agenda's first day. */
  readonly now?: () => Date;
}

/**
 * What `passerelle simulate fhir --port N` runs: a FHIR R4 peer on 127.0.0.1 seeded for the
 * demo. Returns the running peer; the caller prints `peer.url` and calls `peer.close()` on exit.
 */
export async function runFhirPeerCli(options: FhirPeerCliOptions): Promise<FhirPeer> {
  const peer = await startFhirPeer({ port: options.port, host: options.host ?? '127.0.0.1' });
  if ((options.seed ?? 'demo') === 'demo')
    await peer.seed(demoPractice((options.now ?? (() => new Date()))()));
  if (options.patients && options.patients > 0) await peer.seed(generatePatients(options.patients, 1001));
  return peer;
}
