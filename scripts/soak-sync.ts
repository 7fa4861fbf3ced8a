/**
 * The long form of the fault suite's faults that need both sides of a practice (issue 23; the
 * short form is test/cluster/sync-faults.int.test.ts), run by `npm run soak` for the `--faults`
 * kinds `webhook-drop`, `poison` and `skew`:
 *   webhook-drop — agents book `--messages` appointments on the secretariat simulator, which
 *                  drops 10 % of its webhooks (seeded); the link's polls (one instance, its
 *                  lease holder) bring them; each booking stored once and pushed once;
 *   poison       — the practice software sends `--messages` valid messages (bookings, then
 *                  modifications, records spread over `--clients` connections) with broken ones
 *                  among them; valid ones applied once and in each record's order, broken ones
 *                  ACKed AE/AR and dead-lettered;
 *   skew         — instance clocks at −5 min / 0 / +5 min (in turn), genuine webhooks accepted by
 *                  each, replays refused by each.
 * A throwaway database, N instances behind HAProxy, the simulators in this process. Prints the
 * figures of each and returns 1 on any loss, duplicate or wrong verdict.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

import {
  formatFigures,
  runPoisonMessages,
  runSkewedWebhooks,
  runWebhookDrops,
  startSyncClusterWorld,
} from '../test/helpers/cluster-sync-world.js';

export const SYNC_FAULTS = ['webhook-drop', 'poison', 'skew'] as const;
export type SyncFault = (typeof SYNC_FAULTS)[number];

export function isSyncFault(kind: string): kind is SyncFault {
  return (SYNC_FAULTS as readonly string[]).includes(kind);
}

export interface SyncSoakOptions {
  readonly instances: number;
  readonly clients: number;
  readonly messages: number;
  readonly faults: readonly SyncFault[];
  /** PostgreSQL server URL (any database): a throwaway database is created on it. */
  readonly serverUrl: string;
  readonly log: (line: string) => void;
}

const FIVE_MINUTES = 5 * 60_000;

export async function soakSyncFaults(options: SyncSoakOptions): Promise<number> {
  const name = `passerelle_soak_sync_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: options.serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = new URL(options.serverUrl);
  dbUrl.pathname = `/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-soak-sync-'));
  let failed = 0;
  try {
    const w = await startSyncClusterWorld({ instances: options.instances, pgUrl: dbUrl.toString(), dir });
    try {
      options.log(
        `${options.instances} instances, secretariat and practice software simulators, faults ${options.faults.join(', ')}`,
      );
      for (const fault of options.faults) {
        if (fault === 'webhook-drop') {
          const f = await runWebhookDrops(w, { count: options.messages, dropShare: 0.1, seed: 23 });
          options.log(
            formatFigures(
              'webhooks dropped (10 %)',
              f,
              `${f.webhooksDropped} dropped, ${f.pushed} pushed, link runner ${f.leaseHolders.join(', ')}`,
            ).trimEnd(),
          );
          if (f.lost > 0 || f.duplicated > 0 || f.pushed !== options.messages || f.leaseHolders.length !== 1)
            failed++;
        } else if (fault === 'poison') {
          const versions = 5;
          const records = Math.max(options.clients, Math.ceil(options.messages / versions));
          const f = await runPoisonMessages(w, {
            records,
            versions,
            senders: options.clients,
            poisonEvery: 10,
          });
          options.log(
            formatFigures(
              'poison messages',
              f,
              `ACKs ${JSON.stringify(f.acks)}, dead letters ${JSON.stringify(f.deadLetterReasons)}`,
            ).trimEnd(),
          );
          const poison = f.sent - records * versions;
          if (
            f.lost > 0 ||
            f.duplicated > 0 ||
            f.deadLettered !== poison ||
            f.outOfOrder > 0 ||
            f.poisonAccepted > 0
          )
            failed++;
        } else {
          const offsets = Array.from(
            { length: options.instances },
            (_, i) => [-FIVE_MINUTES, 0, FIVE_MINUTES][i % 3] as number,
          );
          const f = await runSkewedWebhooks(w, {
            offsetsMs: offsets,
            platformSkewSeconds: [0, -240, 240, -120, 120],
          });
          options.log(
            formatFigures(
              'clock skew ±5 min (webhook windows)',
              f.figures,
              `per instance ${JSON.stringify(f.instances)}, replays ${JSON.stringify(f.replays)}, stale ${JSON.stringify(f.stale)}`,
            ).trimEnd(),
          );
          const ok =
            f.instances.every((i) => i.accepted === i.genuine && i.genuine === 5) &&
            f.replays.every((r) => r.status === 200 && r.sameAnswer) &&
            f.stale.every((s) => s.status === 401) &&
            f.inboxRowsOfReplayed === 1 &&
            f.simultaneous.inboxRows === 1 &&
            f.simultaneous.sameAnswers &&
            f.figures.lost === 0 &&
            f.figures.duplicated === 0;
          if (!ok) failed++;
        }
      }
    } finally {
      await w.stop();
    }
  } finally {
    const c = new pg.Client({ connectionString: options.serverUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
    rmSync(dir, { recursive: true, force: true });
  }
  return failed === 0 ? 0 : 1;
}
