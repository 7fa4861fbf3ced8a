import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import { createLogger } from '../../src/log/logger.js';
import {
  AuditCheckpointer,
  readCheckpoints,
  verifyAuditTrail,
} from '../../src/security/audit-checkpoints.js';
import type { Store } from '../../src/store/index.js';
import { auditHash, auditMac, keyedAuditHash } from '../../src/store/repos/audit.js';
import type { AuditEventsTable } from '../../src/store/schema.js';
import {
  openTestStore,
  STORE_KINDS,
  tempDir,
  testClock,
  testSealing,
  type TestStore,
} from '../helpers/stores.js';

const KEY = Buffer.alloc(32, 7);
const WRONG_KEY = Buffer.alloc(32, 9);

type Row = Omit<AuditEventsTable, 'seq'> & { seq: number };

async function rows(store: Store): Promise<Row[]> {
  return (await store.db.selectFrom('audit_events').selectAll().orderBy('seq').execute()).map((r) => ({
    ...r,
    seq: Number(r.seq),
  }));
}

/** What an intruder with write access to the store does: edit one event, recompute every hash after it with `hash`, move the head. */
async function rechain(
  store: Store,
  fromSeq: number,
  hash: (prev: string, row: Row) => string,
  edit?: (row: Row) => Row,
): Promise<void> {
  let prev: string | undefined;
  let last: Row | undefined;
  for (const original of await rows(store)) {
    if (original.seq < fromSeq) {
      prev = original.hash;
      continue;
    }
    const row = original.seq === fromSeq && edit ? edit(original) : original;
    const prevHash = prev ?? row.prev_hash;
    const next = { ...row, prev_hash: prevHash, hash: hash(prevHash, row) };
    await store.db
      .updateTable('audit_events')
      .set({ actor: next.actor, prev_hash: next.prev_hash, hash: next.hash })
      .where('seq', '=', row.seq)
      .execute();
    prev = next.hash;
    last = next;
  }
  if (last)
    await store.db
      .updateTable('audit_head')
      .set({ seq: last.seq, hash: last.hash })
      .where('id', '=', 1)
      .execute();
}

async function appendSome(store: Store, n: number, practiceId = 'cab-a'): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = await store.audit.append({
      actor: 'key-1',
      role: 'admin',
      action: 'patient.read',
      resourceType: 'Patient',
      resourceId: `p${i}`,
      patientId: `p${i}`,
      practiceId,
      outcome: 'success',
      via: 'api',
      details: { i },
    });
    seqs.push(e.seq);
  }
  return seqs;
}

describe.each(STORE_KINDS)('keyed audit chain and signed checkpoints (%s store)', (kind) => {
  let t: TestStore;
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  let checkpoints: AuditCheckpointer;
  const clock = testClock();

  beforeEach(async () => {
    t = await openTestStore(kind, { auditKey: KEY, now: clock });
    dir = tempDir('passerelle-audit-');
    file = join(dir.path, 'audit', 'checkpoints.jsonl');
    checkpoints = new AuditCheckpointer({
      store: t.store,
      key: KEY,
      file,
      everyEvents: 5,
      everyMs: 15 * 60_000,
      checkMs: 0,
      logger: createLogger({ silent: true }),
      now: clock,
      instance: 'test',
    });
    await t.store.audit.adoptKey();
    await checkpoints.start();
  });
  afterEach(async () => {
    await checkpoints.stop();
    await t.dispose();
    dir.remove();
  });

  const verify = () => verifyAuditTrail(t.store, { key: KEY, checkpointFile: file });

  it('verifies an untouched chain against the key and every checkpoint', async () => {
    await appendSome(t.store, 3);
    await checkpoints.checkpoint();
    await appendSome(t.store, 2);
    await checkpoints.checkpoint();
    const all = await rows(t.store);
    expect(all[0]?.hash).toBe(keyedAuditHash(KEY, all[0]?.prev_hash as string, all[0] as Row));
    expect(await verify()).toEqual({ ok: true, checked: 5, checkpoints: 2 });
  });

  it('writes the checkpoint file 0600 (folder 0700), one signed line per checkpoint', async () => {
    await appendSome(t.store, 2);
    const cp = await checkpoints.checkpoint();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.path, 'audit')).mode & 0o777).toBe(0o700);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2); // the start's (empty chain) and this one
    expect(lines[1]).toEqual({
      v: 1,
      seq: cp.seq,
      hash: cp.hash,
      at: new Date(clock()).toISOString(),
      instance: 'test',
      keyId: expect.stringMatching(/^[0-9a-f]{16}$/),
      sig: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(readCheckpoints(file, KEY)).toMatchObject({
      problems: [],
      checkpoints: [{ seq: 0 }, { seq: cp.seq, hash: cp.hash }],
    });
  });

  it('checkpoints after N events or T minutes, not before', async () => {
    await appendSome(t.store, 4);
    expect(await checkpoints.check()).toBeUndefined();
    const [fifth] = await appendSome(t.store, 1);
    expect(await checkpoints.check()).toMatchObject({ seq: fifth });
    await appendSome(t.store, 1);
    expect(await checkpoints.check()).toBeUndefined();
    clock.advance(15 * 60_000);
    expect(await checkpoints.check()).toMatchObject({ seq: (fifth as number) + 1 });
    clock.advance(60 * 60_000);
    expect(await checkpoints.check()).toBeUndefined(); // nothing new to cover
  });

  it('detects the last events deleted, naming the first missing one', async () => {
    const seqs = await appendSome(t.store, 6);
    await checkpoints.checkpoint();
    await t.store.db
      .deleteFrom('audit_events')
      .where('seq', '>', seqs[3] as number)
      .execute();
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSeq: (seqs[3] as number) + 1 });
  });

  it('detects the last events deleted with the head moved back onto the new last one', async () => {
    const seqs = await appendSome(t.store, 6);
    await checkpoints.checkpoint();
    const keep = (await rows(t.store)).find((r) => r.seq === seqs[3]) as Row;
    await t.store.db.deleteFrom('audit_events').where('seq', '>', keep.seq).execute();
    await t.store.db
      .updateTable('audit_head')
      .set({ seq: keep.seq, hash: keep.hash })
      .where('id', '=', 1)
      .execute();
    // The chain alone is consistent again: only the checkpoint outside the store sees it.
    expect(await t.store.audit.verify()).toMatchObject({ ok: true });
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: keep.seq + 1,
      reason: expect.stringContaining('truncated'),
    });
  });

  it('detects the head moved back while the events stay', async () => {
    const seqs = await appendSome(t.store, 4);
    const back = (await rows(t.store)).find((r) => r.seq === seqs[1]) as Row;
    await t.store.db
      .updateTable('audit_head')
      .set({ seq: back.seq, hash: back.hash })
      .where('id', '=', 1)
      .execute();
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: back.seq + 1,
      reason: expect.stringContaining('head was moved back'),
    });
  });

  it('detects an event edited and the whole chain recomputed with plain SHA-256', async () => {
    const seqs = await appendSome(t.store, 6);
    await checkpoints.checkpoint();
    await rechain(
      t.store,
      seqs[2] as number,
      (prev, row) => auditHash(prev, row),
      (row) => ({ ...row, actor: 'intrus' }),
    );
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: seqs[2],
      reason: expect.stringContaining('audit key'),
    });
  });

  it('detects the chain recomputed with plain SHA-256 from the start and the keyed anchor removed', async () => {
    const seqs = await appendSome(t.store, 6);
    await checkpoints.checkpoint();
    await rechain(
      t.store,
      seqs[0] as number,
      (prev, row) => auditHash(prev, row),
      (row) => ({ ...row, actor: 'intrus' }),
    );
    await t.store.db
      .updateTable('audit_head')
      .set({ anchor_seq: null, anchor_hash: null, anchor_mac: null })
      .where('id', '=', 1)
      .execute();
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: seqs[5],
      reason: expect.stringContaining('rewritten'),
    });
  });

  it('detects an event edited and the chain recomputed with another key, anchor re-signed too', async () => {
    const seqs = await appendSome(t.store, 6);
    await checkpoints.checkpoint();
    await rechain(
      t.store,
      seqs[3] as number,
      (prev, row) => keyedAuditHash(WRONG_KEY, prev, row),
      (row) => ({ ...row, actor: 'intrus' }),
    );
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSeq: seqs[3] });
    await t.store.db
      .updateTable('audit_head')
      .set({ anchor_mac: auditMac(WRONG_KEY, 'anchor', 0, '0'.repeat(64)) })
      .where('id', '=', 1)
      .execute();
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: 1,
      reason: expect.stringContaining('anchor is not signed by this audit key'),
    });
  });

  it('refuses a checkpoint line edited by hand', async () => {
    await appendSome(t.store, 2);
    const cp = await checkpoints.checkpoint();
    appendFileSync(file, `${JSON.stringify({ ...cp, seq: cp.seq + 1 })}\n`);
    expect(await verify()).toMatchObject({
      ok: false,
      firstBrokenSeq: cp.seq + 1,
      reason: expect.stringContaining('line 3: its signature does not verify'),
    });
  });

  it('refuses checkpoint lines signed with another key', async () => {
    await appendSome(t.store, 2);
    const forger = new AuditCheckpointer({
      store: t.store,
      key: WRONG_KEY,
      file,
      everyEvents: 1,
      everyMs: 1,
      checkMs: 0,
      logger: createLogger({ silent: true }),
      now: clock,
      instance: 'intrus',
    });
    await forger.start();
    await forger.stop();
    expect(await verify()).toMatchObject({ ok: false, reason: expect.stringContaining('another audit key') });
  });

  it('fails without any checkpoint once the chain has events', async () => {
    await appendSome(t.store, 1);
    expect(
      await verifyAuditTrail(t.store, { key: KEY, checkpointFile: join(dir.path, 'none.jsonl') }),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('no signed checkpoint') });
  });

  it('refuses to start with a key that is not the chain’s, and to append without a key', async () => {
    await appendSome(t.store, 1);
    const other = await reopen(t, WRONG_KEY);
    await expect(other.audit.adoptKey()).rejects.toMatchObject({ code: 'ERR_AUDIT_KEY_MISMATCH' });
    await other.close();
    const keyless = await reopen(t, undefined);
    await expect(keyless.audit.append({ actor: 'x', action: 'y', outcome: 'success' })).rejects.toMatchObject(
      { code: 'ERR_AUDIT_KEY_REQUIRED' },
    );
    await keyless.close();
  });

  it('verifies from the purge base after a retention purge of the chain’s prefix, and detects a prefix removed without it', async () => {
    const seqs = await appendSome(t.store, 6);
    await checkpoints.checkpoint();
    await t.store.transaction(async (tx) => {
      await tx.audit.rebase(seqs[2] as number);
      await tx.db
        .deleteFrom('audit_events')
        .where('seq', '<=', seqs[2] as number)
        .execute();
    });
    expect(await verify()).toMatchObject({ ok: true, checked: 3 });
    await t.store.db
      .deleteFrom('audit_events')
      .where('seq', '<=', seqs[3] as number)
      .execute();
    expect(await verify()).toMatchObject({ ok: false, firstBrokenSeq: seqs[4] });
    await t.store.db
      .updateTable('audit_head')
      .set({ base_seq: seqs[3] as number })
      .where('id', '=', 1)
      .execute();
    expect(await verify()).toMatchObject({
      ok: false,
      reason: expect.stringContaining('purge base is not signed'),
    });
  });

  it('stores each event’s practice and filters on it, the actor and the period', async () => {
    await appendSome(t.store, 2, 'cab-a');
    clock.advance(60_000);
    const from = clock();
    await appendSome(t.store, 1, 'cab-b');
    await t.store.audit.append({
      actor: 'feed-1',
      action: 'ical.feed.read',
      outcome: 'success',
      details: { practiceId: 'cab-b' },
    });
    expect((await t.store.audit.list({ practiceIds: ['cab-b'] })).map((e) => e.actor)).toEqual([
      'key-1',
      'feed-1',
    ]);
    expect(await t.store.audit.list({ practiceIds: [] })).toEqual([]);
    expect((await t.store.audit.list({ actor: 'feed-1' })).map((e) => e.practiceId)).toEqual(['cab-b']);
    expect(await t.store.audit.list({ fromMs: from })).toHaveLength(2);
    expect(await t.store.audit.list({ toMs: from })).toHaveLength(2);
  });
});

/** The same database, opened again by another process with another key (or none). */
async function reopen(t: TestStore, auditKey: Buffer | undefined): Promise<Store> {
  const { openPostgresStore, openSqliteStore } = await import('../../src/store/index.js');
  const key = auditKey ? { auditKey } : {};
  return t.location.startsWith('postgres')
    ? openPostgresStore({ url: t.location, poolSize: 2, sealing: testSealing(), ...key })
    : openSqliteStore({ path: t.location, sealing: testSealing(), ...key });
}

describe.each(STORE_KINDS)('moving an existing plain SHA-256 chain to the keyed chain (%s store)', (kind) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore(kind);
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('keeps the old events verified the old way up to the anchor, and keys everything after it', async () => {
    const legacy = await appendSome(t.store, 3);
    expect(await t.store.audit.verify()).toEqual({ ok: true, checked: 3 });
    const keyed = await reopen(t, KEY);
    try {
      expect(await keyed.audit.adoptKey()).toEqual({ anchored: true });
      expect(await keyed.audit.adoptKey()).toEqual({ anchored: false });
      const after = await appendSome(keyed, 2);
      const head = await keyed.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
      expect(Number(head.anchor_seq)).toBe(legacy[2]);
      expect(await keyed.audit.verify()).toEqual({ ok: true, checked: 5 });
      const all = await rows(keyed);
      const last = all[all.length - 1] as Row;
      expect(last.hash).toBe(keyedAuditHash(KEY, last.prev_hash, last));

      // Moving the anchor past the keyed events, to pass them off as old plain ones, needs the key.
      await keyed.db
        .updateTable('audit_head')
        .set({ anchor_seq: after[1] as number, anchor_hash: last.hash })
        .where('id', '=', 1)
        .execute();
      expect(await keyed.audit.verify()).toMatchObject({
        ok: false,
        reason: expect.stringContaining('anchor'),
      });
      await keyed.db
        .updateTable('audit_head')
        .set({ anchor_seq: legacy[2] as number, anchor_hash: all[2]?.hash as string })
        .where('id', '=', 1)
        .execute();
      expect(await keyed.audit.verify()).toMatchObject({ ok: true });

      // An old event edited is still caught by the plain chain.
      await keyed.db
        .updateTable('audit_events')
        .set({ actor: 'intrus' })
        .where('seq', '=', legacy[1] as number)
        .execute();
      expect(await keyed.audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: legacy[1] });
    } finally {
      await keyed.close();
    }
  });
});

describe('checkpoint copies posted to a webhook', () => {
  it('POSTs every checkpoint it writes, as signed, to the configured URL', async () => {
    const received: unknown[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, body: JSON.parse(body) as unknown });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const t = await openTestStore('sqlite', { auditKey: KEY });
    const dir = tempDir('passerelle-audit-hook-');
    try {
      await t.store.audit.adoptKey();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkpoints`;
      const writer = new AuditCheckpointer({
        store: t.store,
        key: KEY,
        file: join(dir.path, 'cp.jsonl'),
        everyEvents: 1,
        everyMs: 60_000,
        checkMs: 0,
        webhookUrl: url,
        logger: createLogger({ silent: true }),
        now: Date.now,
        instance: 'test',
      });
      await writer.start();
      await appendSome(t.store, 2);
      const cp = await writer.checkpoint();
      await writer.stop(); // waits for the POSTs in flight
      expect(received).toHaveLength(2);
      expect(received).toContainEqual({ method: 'POST', url: '/checkpoints', body: cp });
      expect(readCheckpoints(join(dir.path, 'cp.jsonl'), KEY).checkpoints.map((c) => c.seq)).toEqual([
        0,
        cp.seq,
      ]);
    } finally {
      await t.dispose();
      dir.remove();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
