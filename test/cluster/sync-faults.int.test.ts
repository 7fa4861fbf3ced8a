/**
 * Issue 23's fault suite, the faults that need both sides of a practice (short form; the long
 * form is `npm run soak -- --faults webhook-drop,poison,skew`): three `passerelle serve`
 * processes on one throwaway PostgreSQL database behind HAProxy, the secretariat simulator
 * sending its signed webhooks to HAProxy's HTTP front, the HL7 simulator as the practice
 * software on HAProxy's MLLP front (test/helpers/cluster-sync-world.ts). One world for the whole
 * file: starting the processes is the slow part. HAProxy is part of this machine (.ci/run
 * installs it): without it the test fails saying so, it never skips.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { haproxyBinary } from '../../scripts/cluster.js';
import {
  formatFigures,
  runPoisonMessages,
  runSkewedWebhooks,
  runWebhookDrops,
  startSyncClusterWorld,
  type SyncClusterWorld,
} from '../helpers/cluster-sync-world.js';
import { createPgDatabase, tempDir } from '../helpers/stores.js';

const FIVE_MINUTES = 5 * 60_000;

describe('three instances behind HAProxy, both sides of a practice: webhooks dropped, clocks skewed, poison messages', () => {
  const dir = tempDir('passerelle-cluster-sync-');
  let db: { url: string; drop: () => Promise<void> };
  let w: SyncClusterWorld;

  beforeAll(async () => {
    haproxyBinary(); // fails at once, with the way to install it, when HAProxy is missing
    db = await createPgDatabase();
    w = await startSyncClusterWorld({ instances: 3, pgUrl: db.url, dir: dir.path });
  }, 240_000);

  afterAll(async () => {
    await w?.stop();
    await db?.drop();
    dir.remove();
  }, 60_000);

  it('dead-letters poison messages with their reason and AE/AR, and applies the valid ones of the same records once, in order', async () => {
    const f = await runPoisonMessages(w, { records: 4, versions: 4, senders: 3, poisonEvery: 5 });
    process.stdout.write(
      formatFigures(
        'poison messages',
        f,
        `ACKs ${JSON.stringify(f.acks)}, dead letters ${JSON.stringify(f.deadLetterReasons)}`,
      ),
    );
    // 16 valid (4 records × 4 versions), 4 broken modifications of those records, 3 from the corpus.
    expect(f).toMatchObject({ sent: 23, acked: 23, applied: 16, deadLettered: 7, lost: 0, duplicated: 0 });
    expect([f.outOfOrder, f.poisonAccepted]).toEqual([0, 0]);
    expect(f.acks['AA']).toBe(16);
    expect((f.acks['AE'] ?? 0) + (f.acks['AR'] ?? 0)).toBe(7);
    // Every dead letter says why, with an error code of the catalogue.
    expect(Object.keys(f.deadLetterReasons).every((code) => /^ERR_[A-Z0-9_]+$/.test(code))).toBe(true);
  }, 180_000);

  it('recovers every webhook the platform dropped (10 %, seeded) with the polls of the one lease holder: each booking stored once and pushed once', async () => {
    const f = await runWebhookDrops(w, { count: 20, dropShare: 0.1, seed: 23 });
    process.stdout.write(
      formatFigures(
        'webhooks dropped (10 %)',
        f,
        `${f.webhooksDropped} dropped and ${f.webhooksDelivered} delivered, ${f.pushed} pushed to the practice software, link runner ${f.leaseHolders.join(', ')}`,
      ),
    );
    expect(f.webhooksDropped).toBeGreaterThan(0);
    expect(f.webhooksDropped + f.webhooksDelivered).toBe(20);
    expect(f).toMatchObject({ sent: 20, applied: 20, lost: 0, duplicated: 0 });
    expect(f.pushed).toBe(20);
    // Only one instance runs the link's scheduled polls.
    expect(f.leaseHolders).toHaveLength(1);
  }, 240_000);

  it('accepts genuine webhooks on instances 5 minutes behind, on time and 5 minutes ahead, and refuses replays on every one', async () => {
    const f = await runSkewedWebhooks(w, {
      offsetsMs: [-FIVE_MINUTES, 0, FIVE_MINUTES],
      // The platform's clock right, then 4 minutes behind and ahead (docs/security.md: the window).
      platformSkewSeconds: [0, -240, 240],
    });
    process.stdout.write(
      formatFigures(
        'clock skew ±5 min (webhook windows)',
        f.figures,
        `per instance ${JSON.stringify(f.instances)}, replays ${JSON.stringify(f.replays)}, stale ${JSON.stringify(f.stale)}, at once on every instance ${JSON.stringify(f.simultaneous)}`,
      ),
    );
    expect(f.figures).toMatchObject({ sent: 9, acked: 9, applied: 9, lost: 0, duplicated: 0 });
    expect(f.instances).toEqual([
      { offsetMs: -FIVE_MINUTES, genuine: 3, accepted: 3 },
      { offsetMs: 0, genuine: 3, accepted: 3 },
      { offsetMs: FIVE_MINUTES, genuine: 3, accepted: 3 },
    ]);
    // The same bytes again, on each instance: the first answer, nothing stored or applied again.
    expect(f.replays).toEqual(Array(3).fill({ status: 200, sameAnswer: true }));
    expect(f.inboxRowsOfReplayed).toBe(1);
    // One delivery reaching the three instances at the same moment: stored once, one answer.
    expect(f.simultaneous).toEqual({ statuses: [200, 200, 200], sameAnswers: true, inboxRows: 1 });
    // Signed 16 minutes before or after: outside the window on every instance, whatever its clock.
    expect(f.stale).toEqual(Array(6).fill({ status: 401, code: 'ERR_WEBHOOK_TIMESTAMP' }));
  }, 180_000);
});
