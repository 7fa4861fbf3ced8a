/**
 * Issue 23, what several instances sharing one PostgreSQL database coordinate through it
 * (src/store/cluster.ts, src/sync/cluster-leases.ts, src/sync/scheduler.ts, migration 0017).
 * Each store stands for one instance; their injected clocks disagree by ten minutes, which must
 * change nothing (every expiry is judged on the database's clock). One instance reaches
 * PostgreSQL through a TCP proxy the test stalls (a partition) and restores. One throwaway
 * database for the file.
 */
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorRegistry } from '../../src/app/connectors.js';
import { createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import { ActivePlans } from '../../src/mapping/active-plans.js';
import { planFromText, shippedProfileText } from '../../src/mapping/runtime.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openPostgresStore, type Store } from '../../src/store/index.js';
import { LeaseKeeper } from '../../src/sync/cluster-leases.js';
import { linkLeaseName, SyncRuntime } from '../../src/sync/runtime.js';
import { occurrenceOf, runOncePerCluster, scheduleClusterJob } from '../../src/sync/scheduler.js';
import { memoryConnector, MemoryWorld } from '../helpers/memory-connector.js';
import { createPgDatabase, openTestStore, PG_URL, testSealing } from '../helpers/stores.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until as untilRaw, untilWith } from '../helpers/until.js';

const until = untilWith({ ms: 15_000 });
const logger = createLogger({ silent: true });
const FIVE_MINUTES = 5 * 60_000;

describe('instances sharing one PostgreSQL database', () => {
  let db: { url: string; drop: () => Promise<void> };
  let proxy: TcpProxy;
  /** Instance A: clock 5 minutes ahead, reaches PostgreSQL through the proxy. */
  let a: Store;
  /** Instance B: clock 5 minutes behind, direct. */
  let b: Store;
  /** Instance C: right clock, direct; also the test's own view of the database. */
  let c: Store;
  let linkId: string;

  beforeAll(async () => {
    db = await createPgDatabase();
    const sealing = testSealing();
    c = await openPostgresStore({ url: db.url, poolSize: 4, sealing });
    await c.migrate();
    const target = new URL(PG_URL);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    a = await openPostgresStore({
      url: proxy.urlThrough(db.url),
      poolSize: 3,
      sealing,
      now: () => Date.now() + FIVE_MINUTES,
    });
    b = await openPostgresStore({ url: db.url, poolSize: 3, sealing, now: () => Date.now() - FIVE_MINUTES });
    const practice = await c.practices.create({ name: 'Cabinet des Trois Instances' });
    linkId = (
      await c.links.create({
        practiceId: practice.id,
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel',
        isTest: true,
      })
    ).id;
  });

  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.close();
    await c?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('keeps a renewed lease with its holder, and hands it over within ttl + ttl/3 of the holder being cut off, never to two holders at once, whatever the instances clocks say', async () => {
    const ttl = 900;
    const name = `link:${linkId}`;
    let overlap = false;
    let takenAt: number | undefined;
    const ka = new LeaseKeeper({ store: a, logger, owner: 'instance-a', ttlMs: ttl });
    const kb = new LeaseKeeper({
      store: b,
      logger,
      owner: 'instance-b',
      ttlMs: ttl,
      onChange: (n, held) => {
        if (!held) return;
        overlap ||= ka.holds(n);
        takenAt = performance.now();
      },
    });
    try {
      ka.start();
      ka.want(name);
      await ka.beat();
      expect(ka.holds(name)).toBe(true);
      kb.start();
      kb.want(name);
      await kb.beat();
      expect(kb.holds(name)).toBe(false);

      // A renews for more than two lease times while B keeps trying: B never gets it.
      await until('three renewals by the holder', async () => {
        const lease = (await c.cluster!.listLeases()).find((l) => l.name === name);
        return (
          lease?.owner === 'instance-a' &&
          Date.parse(lease.renewedAt) - Date.parse(lease.acquiredAt) > 2 * ttl
        );
      });
      expect(kb.holds(name)).toBe(false);
      expect(takenAt).toBeUndefined();

      // A partition between A and PostgreSQL: its heartbeats hang, nothing errors.
      proxy.stall();
      const cutAt = performance.now();
      await until('B holding the lease', () => kb.holds(name), 4 * ttl);
      const takeover = (takenAt ?? performance.now()) - cutAt;
      expect(overlap).toBe(false);
      expect(ka.holds(name)).toBe(false);
      console.log(`lease takeover after the holder was cut off: ${Math.round(takeover)} ms (ttl ${ttl} ms)`);

      // The partition heals: A reconnects, sees B's lease, and does not take it back.
      proxy.restore();
      await untilRaw(
        'A heartbeating again',
        async () => {
          await ka.beat();
          return (await a.cluster!.listLeases()).some((l) => l.name === name);
        },
        10_000,
        { tolerateErrors: true },
      );
      await ka.beat();
      expect(ka.holds(name)).toBe(false);
      expect(kb.holds(name)).toBe(true);
      expect((await c.cluster!.listLeases()).find((l) => l.name === name)?.owner).toBe('instance-b');

      // A graceful stop releases at once: A takes it at its next heartbeat.
      await kb.stop();
      await ka.beat();
      expect(ka.holds(name)).toBe(true);
    } finally {
      await ka.stop();
      await kb.stop();
    }
  });

  it('runs each occurrence of a scheduled job on exactly one instance, and every occurrence once', async () => {
    const runs: string[] = [];
    const stores = [a, b, c];
    // The same firing seen by instances whose clocks disagree: each names its own scheduled time.
    const occurrence = occurrenceOf(new Date('2026-12-07T03:17:00Z'));
    const results = await Promise.all(
      stores.map((s, i) =>
        runOncePerCluster(s, 'retention-purge', occurrence, async () => {
          runs.push(`instance ${i}`);
          return i;
        }),
      ),
    );
    expect(runs).toHaveLength(1);
    expect(results.filter((r) => r.ran)).toHaveLength(1);
    const next = await runOncePerCluster(
      b,
      'retention-purge',
      occurrenceOf(new Date('2026-12-08T03:17:00Z')),
      async () => 'ran',
    );
    expect(next).toEqual({ ran: true, result: 'ran' });

    // Real node-cron schedules on three instances, every second: each second runs once.
    const perOccurrence = new Map<string, number>();
    const tasks = stores.map((s) =>
      scheduleClusterJob({
        store: s,
        logger,
        name: 'test-every-second',
        expression: '* * * * * *',
        run: async () => {
          const key = occurrenceOf(Date.now());
          perOccurrence.set(key, (perOccurrence.get(key) ?? 0) + 1);
        },
      }),
    );
    try {
      await until('three occurrences run', async () => {
        const done = await c.db
          .selectFrom('cluster_jobs' as never)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('job' as never, '=', 'test-every-second' as never)
          .where('outcome' as never, '=', 'done' as never)
          .executeTakeFirstOrThrow();
        return Number(done.n) >= 3;
      });
    } finally {
      for (const t of tasks) await t.destroy();
    }
    const claims = await c.db
      .selectFrom('cluster_jobs' as never)
      .select(['occurrence' as never])
      .where('job' as never, '=', 'test-every-second' as never)
      .execute();
    expect(new Set(claims.map((r) => (r as { occurrence: string }).occurrence)).size).toBe(claims.length);
    expect([...perOccurrence.values()].reduce((x, y) => x + y, 0)).toBe(claims.length);
  });

  it('runs the job every time on SQLite, where one process owns the store', async () => {
    const t = await openTestStore('sqlite');
    try {
      let n = 0;
      const o = occurrenceOf(Date.now());
      await runOncePerCluster(t.store, 'retention-purge', o, async () => n++);
      await runOncePerCluster(t.store, 'retention-purge', o, async () => n++);
      expect(n).toBe(2);
    } finally {
      await t.dispose();
    }
  });

  it('stores the same HL7 message received by two instances at once once, and gives both the same ACK', async () => {
    const messages = Array.from({ length: 20 }, (_, i) =>
      Buffer.from(`MSH|^~\\&|LOGICIEL|CAB|||20261207||SIU^S12|race-${i}|P|2.5.1`),
    );
    // What the ingest does (src/sync/ingest/message.ts): accept, apply, store the ACK, one transaction.
    const ingest = (s: Store, body: Buffer, instance: string) =>
      s.batch(async (tx) => {
        const accepted = await tx.inbox.accept({
          linkId,
          dedupeKey: body.toString().split('|')[9] ?? '',
          bodyHash: createHash('sha256').update(body).digest('hex'),
          messageType: 'SIU^S12',
          body,
        });
        if (accepted.outcome === 'duplicate') return accepted.entry.response?.toString() ?? null;
        const ack = `MSA|AA|${body.toString().split('|')[9]}|applied by ${instance}`;
        await tx.inbox.finish(accepted.entry.id, { status: 'processed', response: Buffer.from(ack) });
        return ack;
      });
    const acks = await Promise.all(messages.map((m) => Promise.all([ingest(a, m, 'a'), ingest(b, m, 'b')])));
    for (const [fromA, fromB] of acks) {
      expect(fromA).not.toBeNull();
      expect(fromA).toBe(fromB);
    }
    const rows = await c.inbox.list({ linkId, limit: 1000 });
    expect(rows.filter((r) => r.dedupeKey.startsWith('race-'))).toHaveLength(20);
  });

  it('reloads a link plan on another instance as soon as its mapping profile changes, and only when its version changed', async () => {
    const profiles = defaultConnectorRegistry().profiles();
    const plans = new ActivePlans(b, profiles, { refreshMs: 0 });
    await plans.start();
    try {
      expect(plans.current(linkId)).toMatchObject({ source: 'shipped' });
      const yaml = shippedProfileText('hl7v2-ihe-pam-fr').replace(
        'name: hl7v2-ihe-pam-fr',
        'name: logiciel-x',
      );
      const v = await c.mappingProfiles.add({
        linkId,
        name: 'logiciel-x',
        yaml,
        hash: planFromText(yaml, 'test').hash,
      });
      await until(
        'the new version running on the other instance',
        () => plans.current(linkId)?.version === v.version,
      );
      expect(await plans.refreshIfChanged(linkId)).toBe(false);
    } finally {
      await plans.stop();
    }
  });

  it('polls a link on schedule from the instance holding its lease only, and from another once the holder stops', async () => {
    const practice = await c.practices.create({ name: 'Cabinet du Runner' });
    const polled = await c.links.create({
      practiceId: practice.id,
      role: 'practice',
      connector: 'memory',
      name: 'Logiciel',
      config: { peer: 'prac' },
      isTest: true,
    });
    const runtimeOn = (store: Store, id: string) =>
      new SyncRuntime({
        store,
        logger,
        secrets: new SecretBox(randomBytes(32)),
        registry: createRegistry([memoryConnector(new MemoryWorld())]),
        autoDispatch: false,
        refreshMs: 0,
        watchLinks: false,
        instanceId: id,
        leaseTtlMs: 60_000,
      });
    const first = runtimeOn(b, 'runner-b');
    const second = runtimeOn(c, 'runner-c');
    try {
      const name = linkLeaseName(polled.id);
      await first.start();
      await first.leases.beat(); // its first claim, made when the link started, has landed
      await second.start();
      await second.leases.beat();
      expect([first.leases.holds(name), second.leases.holds(name)]).toEqual([true, false]);
      const [x, y] = await Promise.all([first.scheduledPoll(polled.id), second.scheduledPoll(polled.id)]);
      expect([x.acquired, y.acquired]).toEqual([true, false]);
      // A graceful stop releases the lease: the other instance runs the link at its next heartbeat.
      await first.stop();
      await second.leases.beat();
      expect(second.leases.holds(name)).toBe(true);
      expect((await second.scheduledPoll(polled.id)).acquired).toBe(true);
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});
