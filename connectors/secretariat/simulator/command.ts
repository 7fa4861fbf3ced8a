/** `passerelle simulate secretariat`: the platform simulator (contract: connectors/secretariat/openapi.yaml). */
import type { ConnectorSimulator } from '../../../src/connector/contract.js';
import { PasserelleError } from '../../../src/errors.js';

export const secretariatSimulator: ConnectorSimulator = {
  command: 'secretariat',
  summary: 'the secretariat platform simulator (contract: connectors/secretariat/openapi.yaml)',
  options: [
    { flags: '--port <n>', description: 'port to listen on (0: any free port)', default: '0' },
    { flags: '--host <address>', description: 'address to listen on', default: '127.0.0.1' },
    {
      flags: '--seed <name>',
      description: 'initial data of a new state',
      choices: ['demo', 'empty'],
      default: 'demo',
    },
    { flags: '--state <file>', description: 'JSON file keeping the state across restarts' },
    { flags: '--token <token>', description: 'bearer token the API expects', default: 'sim-token' },
    { flags: '--webhook-url <url>', description: 'send a signed webhook for every change to this URL' },
    {
      flags: '--webhook-secret <secret...>',
      description: 'whsec_ signing secret(s), current first (two during a rotation); generated if omitted',
    },
  ],
  async run(raw, { out, started }) {
    const opts = raw as {
      port: string;
      host: string;
      seed: 'demo' | 'empty';
      state?: string;
      token: string;
      webhookUrl?: string;
      webhookSecret?: string[];
    };
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new PasserelleError('ERR_CLI_USAGE', `--port must be 0-65535, not ${opts.port}`);
    const { startSecretariatSimulator } = await import('./index.js');
    const { generateWebhookSecret } = await import('../../../src/security/webhook-signature.js');
    const secrets = opts.webhookUrl ? (opts.webhookSecret ?? [generateWebhookSecret()]) : [];
    const sim = await startSecretariatSimulator({
      port,
      host: opts.host,
      seed: opts.seed,
      apiToken: opts.token,
      ...(opts.state && { stateFile: opts.state }),
      ...(opts.webhookUrl && { webhook: { url: opts.webhookUrl, secrets } }),
    });
    out(
      `secretariat simulator listening on ${sim.url} (practice ${sim.practiceId}, seed ${opts.seed}${opts.state ? `, state ${opts.state}` : ''})`,
    );
    out(
      `  API: ${sim.url}/v1/practices/${sim.practiceId}    feed: ${sim.url}/v1/practices/${sim.practiceId}/changes    token: ${sim.apiToken}`,
    );
    if (opts.webhookUrl)
      out(`  webhooks to ${opts.webhookUrl}${opts.webhookSecret ? '' : `, signed with ${secrets[0]}`}`);
    started(() => sim.close());
  },
};
