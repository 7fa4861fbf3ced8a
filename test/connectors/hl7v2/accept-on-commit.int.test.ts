/**
 * `acceptAck: commit` (HL7 v2.5.1 §2.9.3): a message in enhanced mode that asks only for an
 * accept ACK (IHE PAM France's MSH-15 AL, MSH-16 NE) is answered CA once it and its dedupe key
 * are committed to the inbox, and applied right after from the inbox — nothing lost, nothing
 * applied twice, arrival order kept, failures dead-lettered. Original mode still answers AA
 * after the apply. Proven with a real crash too: acknowledged messages, process killed before
 * they were applied → applied once after the restart.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Hl7v2Link } from '../../../connectors/hl7v2/index.js';
import { defaultConnectorRegistry } from '../../../src/app/connectors.js';
import { createLogger } from '../../../src/log/logger.js';
import { SecretBox } from '../../../src/security/secrets.js';
import type { Store } from '../../../src/store/index.js';
import type { Link } from '../../../src/store/types.js';
import { SyncRuntime } from '../../../src/sync/runtime.js';
import {
  hl7Fixture,
  listenConfig,
  parseAck,
  RawMllpSocket,
  withControlId,
  withField,
} from '../../helpers/hl7.js';
import { startHl7Child } from '../../helpers/hl7-child-process.js';
import { openTestStore, STORE_KINDS, tempDir, type TestStore, withSqliteFile } from '../../helpers/stores.js';
import { until } from '../../helpers/until.js';

/** The S12 fixture (AL/NE) booking `apt` at `start` (Paris wall time with offset), control id `id`. */
function booking(
  id: string,
  apt: string,
  start = '20250317093000+0100',
  end = '20250317095000+0100',
  trigger = 'S12',
): Buffer {
  let m = withControlId(hl7Fixture('siu-s12-new-appointment'), id);
  m = withField(withField(m, 'MSH', 9, `SIU^${trigger}^SIU_S12`), 'SCH', 2, `${apt}^LOGICIEL-CABINET`);
  return withField(
    withField(withField(m, 'SCH', 11, `^^M20^${start}^${end}`), 'TQ1', 7, start),
    'TQ1',
    8,
    end,
  );
}
const originalMode = (m: Buffer) => withField(withField(m, 'MSH', 15, ''), 'MSH', 16, '');

describe.each(STORE_KINDS)('accept ACK on commit, apply right after (%s store)', (kind) => {
  let t: TestStore;
  let runtime: SyncRuntime;
  let link: Link;
  let socket: RawMllpSocket;

  const appointment = async (apt: string) => {
    const id = await t.store.identityMap.findCanonical(link.id, 'Appointment', apt);
    return id === undefined ? undefined : t.store.resources.get(id);
  };
  const waiting = async () =>
    (await t.store.inbox.list({ linkId: link.id, status: 'received', limit: 1000 })).length;
  const drained = () => until('the stored messages to be applied', async () => (await waiting()) === 0);

  beforeAll(async () => {
    t = await openTestStore(kind);
    const practice = await t.store.practices.create({ name: 'Cabinet' });
    link = await t.store.links.create({
      practiceId: practice.id,
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel',
      isTest: true,
      config: listenConfig({ acceptAck: 'commit' }),
    });
    runtime = new SyncRuntime({
      store: t.store,
      logger: createLogger({ silent: true }),
      secrets: new SecretBox(Buffer.alloc(32, 2)),
      registry: defaultConnectorRegistry(),
      schedulePolls: false,
      refreshMs: 0,
      autoDispatch: false,
    });
    await runtime.start();
    socket = await RawMllpSocket.connect((runtime.connectorOf(link.id) as Hl7v2Link).mllpPort as number);
  });
  afterAll(async () => {
    socket.destroy();
    await runtime.stop();
    await t.dispose();
  });

  it('answers CA once the message is committed, applies it right after, and keeps the arrival order', async () => {
    const first = parseAck(await socket.request(booking('AOC-1', 'RDV-A1')));
    const moved = parseAck(
      await socket.request(booking('AOC-2', 'RDV-A1', '20250318141500+0100', '20250318143500+0100', 'S13')),
    );
    expect([first.code, first.acknowledges, moved.code, moved.acknowledges]).toEqual([
      'CA',
      'AOC-1',
      'CA',
      'AOC-2',
    ]);
    await drained();
    expect((await appointment('RDV-A1'))?.data).toMatchObject({
      status: 'booked',
      start: '2025-03-18T13:15:00.000Z',
    });
    expect((await appointment('RDV-A1'))?.version).toBe(2);
    const rows = (await t.store.inbox.list({ linkId: link.id, limit: 100 })).filter((e) =>
      /\|AOC-[12]$/.test(e.dedupeKey),
    );
    expect(rows.map((r) => r.status)).toEqual(['processed', 'processed']);
  });

  it('answers a resend with the same CA, byte for byte, and applies it once', async () => {
    const msg = booking('AOC-3', 'RDV-A3');
    const before = socket.received.length;
    await socket.request(msg);
    const firstBytes = socket.received.subarray(before);
    await drained();
    const again = socket.received.length;
    await socket.request(msg);
    expect(socket.received.subarray(again).equals(firstBytes)).toBe(true);
    await drained();
    expect((await appointment('RDV-A3'))?.version).toBe(1);
    const stored = (await t.store.inbox.list({ linkId: link.id, limit: 100 })).filter((e) =>
      e.dedupeKey.endsWith('|AOC-3'),
    );
    expect(stored).toHaveLength(1);
    // Applying a message that was applied already changes nothing.
    const replay = await runtime.engine.applyStored(link, [
      { id: stored[0]?.id as number, message: { dedupe: null, records: [] } },
    ]);
    expect(replay.map((r) => r.outcome)).toEqual(['duplicate']);
  });

  it('applies the messages stored before a message in original mode first: its AA comes after them', async () => {
    const booked = parseAck(await socket.request(booking('AOC-4', 'RDV-A4')));
    const cancel = withField(
      withField(
        originalMode(booking('AOC-5', 'RDV-A4', undefined, undefined, 'S15')),
        'SCH',
        25,
        'Cancelled^Cancelled^HL70278',
      ),
      'MSH',
      9,
      'SIU^S15^SIU_S12',
    );
    const cancelled = parseAck(await socket.request(cancel));
    expect([booked.code, cancelled.code]).toEqual(['CA', 'AA']);
    // No wait: the AA was sent after both were applied, in order.
    expect((await appointment('RDV-A4'))?.data).toMatchObject({ status: 'cancelled' });
  });

  it('settles at once a message the profile does not take (CR, dead letter): nothing waits in the inbox for it', async () => {
    const a02 = withControlId(withField(hl7Fixture('adt-a28-create'), 'MSH', 9, 'ADT^A02^ADT_A02'), 'AOC-6');
    const answer = parseAck(await socket.request(a02));
    expect([answer.code, answer.message.get('ERR-3.1')]).toEqual(['CR', '201']);
    expect(await waiting()).toBe(0);
    const dead = await t.store.deadLetters.list({ status: 'open', linkId: link.id, limit: 10 });
    expect(dead.map((d) => d.reasonCode)).toEqual(['ERR_HL7_UNSUPPORTED_MESSAGE']);
  });

  it('dead-letters a stored message that fails to apply, after its CA', async () => {
    // INS test OID on a link not marked as test: the engine refuses the patient at apply time.
    await t.store.links.update(link.id, { isTest: false }, link.version);
    await runtime.refresh();
    const s = await RawMllpSocket.connect((runtime.connectorOf(link.id) as Hl7v2Link).mllpPort as number);
    try {
      const answer = parseAck(await s.request(booking('AOC-7', 'RDV-A7')));
      expect(answer.code).toBe('CA');
      const row = await until('the message set aside', async () =>
        (await t.store.inbox.list({ linkId: link.id, limit: 100 })).find(
          (e) => e.dedupeKey.endsWith('|AOC-7') && e.status === 'failed',
        ),
      );
      expect(row.errorCode).toBe('ERR_MODEL_INVALID');
      expect(
        (await t.store.deadLetters.list({ status: 'open', linkId: link.id, limit: 10 })).map(
          (d) => d.reasonCode,
        ),
      ).toContain('ERR_MODEL_INVALID');
      expect(await appointment('RDV-A7')).toBeUndefined();
    } finally {
      s.destroy();
    }
  });
});

describe('accept ACK on commit, process killed before the apply', () => {
  const dir = tempDir('passerelle-hl7-aoc-kill-');
  const db = join(dir.path, 'passerelle.db');
  let linkId: string;

  const withStore = <T>(fn: (store: Store) => Promise<T>): Promise<T> => withSqliteFile(db, fn);

  beforeAll(async () => {
    linkId = await withStore(async (store) => {
      await store.migrate();
      const practice = await store.practices.create({ name: 'Cabinet' });
      return (
        await store.links.create({
          practiceId: practice.id,
          role: 'practice',
          connector: 'hl7v2',
          name: 'Logiciel',
          config: listenConfig({ acceptAck: 'commit' }),
          isTest: true,
        })
      ).id;
    });
  });
  afterAll(() => dir.remove());

  it('applies after the restart, once, what was acknowledged before the crash', async () => {
    const messages = [
      booking('CRASH-1', 'RDV-K1'),
      booking('CRASH-2', 'RDV-K2'),
      booking('CRASH-3', 'RDV-K1', '20250318141500+0100', '20250318143500+0100', 'S13'),
    ];
    const child = startHl7Child(db, linkId, 'hold-apply');
    const c = await RawMllpSocket.connect(await child.port);
    const acks = [];
    for (const m of messages) acks.push(parseAck(await c.request(m)));
    expect(acks.map((a) => [a.code, a.acknowledges])).toEqual([
      ['CA', 'CRASH-1'],
      ['CA', 'CRASH-2'],
      ['CA', 'CRASH-3'],
    ]);
    await child.line('stored LOGICIEL-CABINET|CABINET-TEST^1.2.250.1.999.1^ISO|CRASH-3');
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    c.destroy();
    // Acknowledged, committed, not applied.
    await withStore(async (store) => {
      expect((await store.inbox.list({ linkId })).map((e) => e.status)).toEqual([
        'received',
        'received',
        'received',
      ]);
      expect(await store.identityMap.findCanonical(linkId, 'Appointment', 'RDV-K1')).toBeUndefined();
    });

    const restarted = startHl7Child(db, linkId, '');
    await restarted.port;
    const applied = await until('the stored messages applied after the restart', () =>
      withStore(async (store) =>
        (await store.inbox.list({ linkId, status: 'received' })).length === 0
          ? store.inbox.list({ linkId })
          : undefined,
      ),
    );
    expect(applied.map((e) => e.status)).toEqual(['processed', 'processed', 'processed']);
    // A resend after the restart gets the CA stored at commit time and changes nothing.
    const again = await RawMllpSocket.connect(await restarted.port);
    const ack = parseAck(await again.request(messages[0] as Buffer));
    expect([ack.code, ack.acknowledges]).toEqual(['CA', 'CRASH-1']);
    again.destroy();
    restarted.process.kill('SIGTERM');
    expect((await restarted.exited).code).toBe(0);
    await withStore(async (store) => {
      const k1 = await store.resources.get(
        (await store.identityMap.findCanonical(linkId, 'Appointment', 'RDV-K1')) as string,
      );
      const k2 = await store.resources.get(
        (await store.identityMap.findCanonical(linkId, 'Appointment', 'RDV-K2')) as string,
      );
      // Booked then moved, in arrival order, each applied once.
      expect([k1?.version, (k1?.data as { start?: string }).start, k2?.version]).toEqual([
        2,
        '2025-03-18T13:15:00.000Z',
        1,
      ]);
      expect(await store.inbox.list({ linkId })).toHaveLength(3);
    });
  });
});
