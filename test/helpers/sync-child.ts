/**
 * A passerelle sync runtime in its own process, for the kill test: it dispatches the outbox
 * of the SQLite store at $SYNC_DB to the peers its links name (the secretariat simulator, the
 * test HTTP peer), with link credentials sealed under $SYNC_KEY (base64), until it is killed or
 * sent SIGTERM (then it stops in order and closes the store).
 * Run: node --import tsx test/helpers/sync-child.ts
 */
import { defaultConnectorDefinitions } from '../../src/app/connectors.js';
import { createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openSqliteStore } from '../../src/store/index.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { httpPeerConnector } from './http-peer.js';

const secrets = new SecretBox(Buffer.from(process.env['SYNC_KEY'] as string, 'base64'));
const store = await openSqliteStore({ path: process.env['SYNC_DB'] as string, sealing: secrets.keyring });
const runtime = new SyncRuntime({
  store,
  logger: createLogger({ level: 'error' }),
  secrets,
  registry: createRegistry([...defaultConnectorDefinitions(), httpPeerConnector]),
  schedulePolls: false,
  refreshMs: 0,
  dispatcher: { leaseMs: 1000, batchSize: 4, idleWakeMs: 100, backoff: { baseMs: 50, capMs: 500 } },
});
await runtime.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void (async () => {
    await runtime.stop();
    await store.close();
    process.stdout.write('stopped\n');
    process.exit(0);
  })();
});
