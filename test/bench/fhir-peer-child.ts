/**
 * The FHIR peer in its own process for the load benchmark, so the benchmark's memory figures
 * are passerelle's alone: the peer on 127.0.0.1 (any free port) seeded with $PEER_PATIENTS
 * patients shaped like a French GP's file (`generatePracticePatients`, population.ts: name and
 * birth-date distributions, twins). Prints `url <base>` once listening; stops on SIGTERM.
 * Run: node --import tsx test/bench/fhir-peer-child.ts
 */
import { generatePracticePatients, startFhirPeer } from '../../connectors/fhir/peer/index.js';

const peer = await startFhirPeer({ port: 0, host: '127.0.0.1' });
await peer.seed(generatePracticePatients(Number(process.env['PEER_PATIENTS'] ?? '100000'), 1001));
process.stdout.write(`url ${peer.url}\n`);
process.on('SIGTERM', () => void peer.close().then(() => process.exit(0)));
