/**
 * The FHIR peer in its own process for the load benchmark, so the benchmark's memory figures
 * are passerelle's alone: `runFhirPeerCli` with $PEER_PATIENTS fictitious patients, on
 * 127.0.0.1, any free port. Prints `url <base>` once listening; stops on SIGTERM.
 * Run: node --import tsx test/bench/fhir-peer-child.ts
 */
import { runFhirPeerCli } from '../../connectors/fhir/peer/index.js';

const peer = await runFhirPeerCli({
  port: 0,
  seed: 'none',
  patients: Number(process.env['PEER_PATIENTS'] ?? '100000'),
});
process.stdout.write(`url ${peer.url}\n`);
process.on('SIGTERM', () => void peer.close().then(() => process.exit(0)));
