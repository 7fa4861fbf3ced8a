/** `passerelle simulate fhir`: the FHIR peer, seeded with a demo practice (loaded on demand: Medplum is heavy). */
import type { ConnectorSimulator } from '../../../src/connector/contract.js';
import { PasserelleError } from '../../../src/errors.js';

export const fhirSimulator: ConnectorSimulator = {
  command: 'fhir',
  summary:
    'a FHIR R4 server (the Medplum-based test peer, connectors/fhir/README.md) seeded with a demo practice',
  options: [
    { flags: '--port <n>', description: 'port to listen on (0: any free port)', default: '0' },
    { flags: '--host <address>', description: 'address to listen on', default: '127.0.0.1' },
    { flags: '--seed <name>', description: 'initial data', choices: ['demo', 'none'], default: 'demo' },
    {
      flags: '--patients <n>',
      description: 'extra fictitious patients to load (paging tests)',
      default: '0',
    },
  ],
  async run(raw, { out, started }) {
    const opts = raw as { port: string; host: string; seed: 'demo' | 'none'; patients: string };
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new PasserelleError('ERR_CLI_USAGE', `--port must be 0-65535, not ${opts.port}`);
    const patients = Number(opts.patients);
    if (!Number.isInteger(patients) || patients < 0 || patients > 1_000_000)
      throw new PasserelleError('ERR_CLI_USAGE', `--patients must be 0-1000000, not ${opts.patients}`);
    const { runFhirPeerCli } = await import('./index.js');
    const peer = await runFhirPeerCli({ port, host: opts.host, seed: opts.seed, patients });
    out(
      `FHIR R4 peer listening on ${peer.url} (seed ${opts.seed}${patients > 0 ? `, +${patients} patients` : ''})`,
    );
    out(`  CapabilityStatement: ${peer.url}/metadata    try: curl '${peer.url}/Appointment?_count=5'`);
    started(() => peer.close());
  },
};
