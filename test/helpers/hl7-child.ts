/**
 * passerelle's sync runtime with one hl7v2 link (its shipped mapping profile, MLLP listener on 127.0.0.1:0)
 * in its own process, on the SQLite store at $HL7_DB (link $HL7_LINK), for the kill test.
 * Prints `listening <port>` once ready.
 *
 * $HL7_FAULT (test-only fault hooks, here and nowhere in product code):
 * - `hang-before-commit`: a received message reaches the handler, which prints
 *   `received <dedupe key>` and never goes on: the process is killed before any commit;
 * - `kill-after-commit`: the handler commits, prints `committed <dedupe key>`, and the process
 *   SIGKILLs itself before the listener can write the ACK;
 * - `hold-apply` (a link with `acceptAck: commit`): a message stored for a later apply prints
 *   `stored <dedupe key>` once committed, and stored messages are never applied: the process is
 *   killed with acknowledged messages waiting in the inbox.
 *
 * Run: node --import tsx test/helpers/hl7-child.ts
 */
import type { Hl7v2Link } from '../../connectors/hl7v2/index.js';
import type { ConnectorDefinition, DeferredIngest, InboundHandler } from '../../src/connector/contract.js';
import { createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openSqliteStore } from '../../src/store/index.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { testHl7Definition } from './hl7.js';
import { testSealing } from './stores.js';

const fault = process.env['HL7_FAULT'] ?? '';
const linkId = process.env['HL7_LINK'] as string;

const wrapHandler =
  (handler: InboundHandler): InboundHandler =>
  async (message) => {
    const key = message.dedupe?.key ?? '';
    if (fault === 'hang-before-commit') {
      process.stdout.write(`received ${key}\n`);
      return new Promise(() => undefined);
    }
    const result = await handler(message);
    if (fault === 'kill-after-commit') {
      process.stdout.write(`committed ${key}\n`, () => process.kill(process.pid, 'SIGKILL'));
      return new Promise(() => undefined);
    }
    return result;
  };

const base = testHl7Definition({ wrapHandler });
const definition: ConnectorDefinition<unknown> =
  fault === 'hold-apply'
    ? {
        ...base,
        create(config, ctx) {
          const inner = ctx.deferred;
          const deferred: DeferredIngest | undefined = inner && {
            ...inner,
            store: async (m) => {
              const r = await inner.store(m);
              process.stdout.write(`stored ${m.dedupe?.key ?? ''}\n`);
              return r;
            },
            apply: () => new Promise(() => undefined),
          };
          return base.create(config, { ...ctx, ...(deferred && { deferred }) });
        },
      }
    : base;

const store = await openSqliteStore({ path: process.env['HL7_DB'] as string, sealing: testSealing() });
const runtime = new SyncRuntime({
  store,
  logger: createLogger({ level: 'error' }),
  secrets: new SecretBox(Buffer.alloc(32, 7)),
  registry: createRegistry([definition]),
  schedulePolls: false,
  refreshMs: 0,
  autoDispatch: false,
});
await runtime.start();
const connector = runtime.connectorOf(linkId) as Hl7v2Link | undefined;
if (!connector?.mllpPort) {
  process.stderr.write(
    `link ${linkId} did not start: ${JSON.stringify((await runtime.status(linkId)).errors)}\n`,
  );
  process.exit(1);
}
process.stdout.write(`listening ${connector.mllpPort}\n`);
process.on('SIGTERM', () => {
  void (async () => {
    await runtime.stop();
    await store.close();
    process.exit(0);
  })();
});
