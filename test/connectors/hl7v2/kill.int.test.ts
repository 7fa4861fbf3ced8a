/**
 * ACK after commit, proven with a real crash: passerelle (sync runtime + hl7v2 listener) runs in
 * a child process on a SQLite file and is SIGKILLed
 *  1. after the message reached the engine's handler but before the commit: no ACK was ever
 *     sent, nothing was stored; after a restart the resend is applied once and answered;
 *  2. after the commit but before the ACK was written: no ACK was sent; after a restart the
 *     resend is recognised and answered with the ACK stored at commit time, byte for byte.
 * The fault hooks live in the test helper (test/helpers/hl7-child.ts), not in product code.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Store } from '../../../src/store/index.js';
import {
  hl7Fixture,
  listenConfig,
  parseAck,
  RawMllpSocket,
  withControlId,
  withField,
} from '../../helpers/hl7.js';
import { type Hl7Child as Child, startHl7Child } from '../../helpers/hl7-child-process.js';
import { tempDir, withSqliteFile } from '../../helpers/stores.js';

describe('hl7v2 listener killed around the commit', () => {
  const dir = tempDir('passerelle-hl7-kill-');
  const db = join(dir.path, 'passerelle.db');
  let linkId: string;
  // Original acknowledgment mode, so the answer is AA.
  const S12 = withField(withField(hl7Fixture('siu-s12-new-appointment'), 'MSH', 15, ''), 'MSH', 16, '');
  let current: Child | undefined;

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
          config: listenConfig(),
          isTest: true,
        })
      ).id;
    });
  });

  afterAll(async () => {
    if (current && current.process.exitCode === null && current.process.signalCode === null) {
      current.process.kill('SIGKILL');
      await current.exited;
    }
    dir.remove();
  });

  async function kill(child: Child): Promise<void> {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
  }

  async function stop(child: Child): Promise<void> {
    child.process.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  }

  it('sends no ACK when killed before the commit, and applies the resend once after a restart', async () => {
    const msg = withControlId(S12, 'KILL-BEFORE');
    current = startHl7Child(db, linkId, 'hang-before-commit');
    const c = await RawMllpSocket.connect(await current.port);
    c.send(msg);
    await current.line('received LOGICIEL-CABINET|CABINET-TEST^1.2.250.1.999.1^ISO|KILL-BEFORE');
    await kill(current);
    await c.closed;
    expect(c.received.length).toBe(0);
    expect(await withStore((s) => s.inbox.list({ linkId }))).toHaveLength(0);

    current = startHl7Child(db, linkId);
    const again = await RawMllpSocket.connect(await current.port);
    const first = await again.request(msg);
    const second = await again.request(msg);
    expect([parseAck(first).code, parseAck(first).acknowledges]).toEqual(['AA', 'KILL-BEFORE']);
    expect(second.equals(first)).toBe(true);
    again.destroy();
    await stop(current);
    await withStore(async (store) => {
      const inbox = (await store.inbox.list({ linkId })).filter((e) => e.dedupeKey.endsWith('|KILL-BEFORE'));
      expect(inbox).toHaveLength(1);
      const appointment = await store.identityMap.findCanonical(linkId, 'Appointment', 'RDV000123');
      expect((await store.resources.get(appointment as string))?.version).toBe(1);
    });
  });

  it('sends no ACK when killed after the commit, and answers the resend with the ACK stored at commit time', async () => {
    const msg = withField(withControlId(S12, 'KILL-AFTER'), 'SCH', 2, 'RDV000124^LOGICIEL-CABINET');
    current = startHl7Child(db, linkId, 'kill-after-commit');
    const c = await RawMllpSocket.connect(await current.port);
    c.send(msg);
    await current.line('committed LOGICIEL-CABINET|CABINET-TEST^1.2.250.1.999.1^ISO|KILL-AFTER');
    expect((await current.exited).signal).toBe('SIGKILL');
    await c.closed;
    expect(c.received.length).toBe(0);
    const stored = await withStore(async (store) =>
      (await store.inbox.list({ linkId })).find((e) => e.dedupeKey.endsWith('|KILL-AFTER')),
    );
    expect(stored?.status).toBe('processed');

    current = startHl7Child(db, linkId);
    const again = await RawMllpSocket.connect(await current.port);
    const block = await again.request(msg);
    expect([parseAck(block).code, parseAck(block).acknowledges]).toEqual(['AA', 'KILL-AFTER']);
    // The bytes on the wire are the stored response: the block plus its MLLP framing.
    expect(again.received.equals(stored?.response as Buffer)).toBe(true);
    again.destroy();
    await stop(current);
    await withStore(async (store) => {
      expect(
        (await store.inbox.list({ linkId })).filter((e) => e.dedupeKey.endsWith('|KILL-AFTER')),
      ).toHaveLength(1);
      const appointment = await store.identityMap.findCanonical(linkId, 'Appointment', 'RDV000124');
      expect((await store.resources.get(appointment as string))?.version).toBe(1);
    });
  });
});
