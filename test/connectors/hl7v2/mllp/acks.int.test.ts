/**
 * What the listener answers, on real sockets with the real engine (SQLite): acknowledgment
 * modes (HL7 v2.5.1 §2.9), reused control ids, unparseable and unsupported messages, messages
 * that could not be committed, character sets, idle connections.
 */
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { InboundHandler } from '../../../../src/connector/contract.js';
import { PasserelleError } from '../../../../src/errors.js';
import { decodeBytes } from '../../../../src/hl7/index.js';
import { createLogger } from '../../../../src/log/logger.js';
import {
  hl7,
  hl7Fixture,
  type Hl7LinkHarness,
  listenConfig,
  parseAck,
  RawMllpSocket,
  startHl7Link,
  withControlId,
  withField,
} from '../../../helpers/hl7.js';

const S12 = hl7Fixture('siu-s12-new-appointment');
const S17 = hl7Fixture('siu-s17-delete-v23');
const ackTypes = (raw: Buffer, accept: string, application: string) =>
  withField(withField(raw, 'MSH', 15, accept), 'MSH', 16, application);

describe('MLLP listener acknowledgments', () => {
  let h: Hl7LinkHarness;
  let failNext = 0;
  const logs: { level: string; message: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) logs.push(JSON.parse(line) as { level: string; message: string });
      done();
    },
  });
  beforeAll(async () => {
    const wrapHandler =
      (handler: InboundHandler): InboundHandler =>
      async (message) => {
        if (failNext > 0) {
          failNext--;
          throw new PasserelleError('ERR_STORE_UNAVAILABLE', 'store down (test)');
        }
        return handler(message);
      };
    h = await startHl7Link({
      config: listenConfig(),
      wrapHandler,
      logger: createLogger({ level: 'debug', stream: sink }),
    });
  });
  afterAll(async () => {
    await h.dispose();
  });

  describe('enhanced mode (MSH-15 / MSH-16, table 0155)', () => {
    it('sends only the application ACK for NE/AL', async () => {
      const c = await RawMllpSocket.connect(h.port);
      const ack = parseAck(await c.request(ackTypes(withControlId(S12, 'ENH-NEAL'), 'NE', 'AL')));
      expect([ack.code, ack.acknowledges]).toEqual(['AA', 'ENH-NEAL']);
      c.destroy();
    });

    it('sends the accept ACK then the application ACK for AL/AL, both after the commit', async () => {
      const c = await RawMllpSocket.connect(h.port);
      c.send(ackTypes(withControlId(S12, 'ENH-ALAL'), 'AL', 'AL'));
      const blocks = (await c.waitForBlocks(2)).map(parseAck);
      expect(blocks.map((b) => [b.code, b.acknowledges])).toEqual([
        ['CA', 'ENH-ALAL'],
        ['AA', 'ENH-ALAL'],
      ]);
      expect(blocks[0]?.message.get('MSH-10')).not.toBe(blocks[1]?.message.get('MSH-10'));
      c.destroy();
    });

    it('sends nothing for NE/NE, and the next message on the connection is answered as usual', async () => {
      const c = await RawMllpSocket.connect(h.port);
      c.send(ackTypes(withControlId(S12, 'ENH-NENE'), 'NE', 'NE'));
      const ack = parseAck(await c.request(withControlId(S17, 'AFTER-NENE')));
      expect([ack.code, ack.acknowledges]).toEqual(['AA', 'AFTER-NENE']);
      expect(c.blocks).toHaveLength(1);
      const stored = (await h.store.inbox.list({ linkId: h.link.id, limit: 1000 })).find((e) =>
        e.dedupeKey.endsWith('|ENH-NENE'),
      );
      expect(stored?.status).toBe('processed');
      c.destroy();
    });

    it('answers ER/ER only when something went wrong: CA is not sent for a success, AE is sent for a mapping error', async () => {
      const c = await RawMllpSocket.connect(h.port);
      c.send(ackTypes(withControlId(S12, 'ENH-ERER-OK'), 'ER', 'ER'));
      const bad = withField(ackTypes(withControlId(S12, 'ENH-ERER-BAD'), 'ER', 'ER'), 'SCH', 2, '');
      const ack = parseAck(await c.request(bad));
      expect([ack.code, ack.acknowledges]).toEqual(['AE', 'ENH-ERER-BAD']);
      expect(ack.message.get('ERR-2.1')).toBe('SCH');
      expect(c.blocks).toHaveLength(1);
      c.destroy();
    });

    it('answers CR to an unsupported event in enhanced mode, and AR in original mode', async () => {
      const c = await RawMllpSocket.connect(h.port);
      const siuS99 = (raw: Buffer) => withField(raw, 'MSH', 9, 'SIU^S99^SIU_S12');
      const enhanced = parseAck(await c.request(siuS99(withControlId(S12, 'UNSUP-ENH'))));
      expect([
        enhanced.code,
        enhanced.message.get('ERR-3.1'),
        enhanced.message.get('ERR-2.1'),
        enhanced.message.get('ERR-2.3'),
      ]).toEqual(['CR', '201', 'MSH', '9']);
      const original = parseAck(await c.request(siuS99(withControlId(S17, 'UNSUP-ORIG'))));
      expect(original.code).toBe('AR');
      // v2.3: the error text travels in MSA-3 and the code in ERR-1.4.
      expect(original.message.get('ERR-1.4.1')).toBe('201');
      const orm = parseAck(await c.request(withField(withControlId(S17, 'UNSUP-TYPE'), 'MSH', 9, 'ORM^O01')));
      expect([orm.code, orm.message.get('ERR-1.4.1')]).toEqual(['AR', '200']);
      c.destroy();
    });
  });

  describe('reused control ids', () => {
    it('processes the same MSH-3/4/10 with another body as a new message and flags it', async () => {
      const c = await RawMllpSocket.connect(h.port);
      const first = withControlId(ackTypes(S12, '', ''), 'REUSED-1');
      const second = withField(first, 'SCH', 2, 'RDV000999^LOGICIEL-CABINET');
      expect(parseAck(await c.request(first)).code).toBe('AA');
      const ack = parseAck(await c.request(second));
      expect([ack.code, ack.acknowledges]).toEqual(['AA', 'REUSED-1']);
      const entries = (await h.store.inbox.list({ linkId: h.link.id, limit: 1000 })).filter((e) =>
        e.dedupeKey.endsWith('|REUSED-1'),
      );
      expect(entries).toHaveLength(2);
      expect(entries[1]?.flags).toContain('reused-dedupe-key');
      expect(await h.store.identityMap.findCanonical(h.link.id, 'Appointment', 'RDV000999')).toBeDefined();
      c.destroy();
    });
  });

  describe('input that cannot be parsed', () => {
    it('stores and dead-letters a message with a readable MSH but a broken segment, and answers AR naming the segment', async () => {
      const c = await RawMllpSocket.connect(h.port);
      const broken = Buffer.concat([withControlId(S17, 'BROKEN-1'), Buffer.from('not a segment\r')]);
      const ack = parseAck(await c.request(broken));
      expect([ack.code, ack.acknowledges]).toEqual(['AR', 'BROKEN-1']);
      expect(ack.message.get('MSA-3')).toMatch(/^segment 7: expected a segment name/);
      const entry = (await h.store.inbox.list({ linkId: h.link.id, limit: 1000 })).find((e) =>
        e.dedupeKey.endsWith('|BROKEN-1'),
      );
      expect(entry?.status).toBe('failed');
      expect(entry?.errorCode).toBe('ERR_HL7_PARSE');
      expect(entry?.body?.equals(broken)).toBe(true);
      expect(
        (await h.store.deadLetters.list({ linkId: h.link.id })).some((d) => d.ref === String(entry?.id)),
      ).toBe(true);
      c.destroy();
    });

    it('answers AR without storing anything when even MSH-10 cannot be read', async () => {
      const c = await RawMllpSocket.connect(h.port);
      const before = (await h.store.inbox.list({ linkId: h.link.id, limit: 1000 })).length;
      const noId = parseAck(await c.request(withControlId(S17, '')));
      expect([noId.code, noId.acknowledges]).toEqual(['AR', undefined]);
      const noMsh = parseAck(await c.request(Buffer.from('PID|1||X\r')));
      expect([noMsh.code, noMsh.acknowledges]).toEqual(['AR', undefined]);
      expect((await h.store.inbox.list({ linkId: h.link.id, limit: 1000 })).length).toBe(before);
      c.destroy();
    });

    it('answers AR to a load balancer’s health check (a lone MSH without control id) and logs it at debug, not as a warning', async () => {
      const c = await RawMllpSocket.connect(h.port);
      const refused = () => logs.filter((l) => l.message === 'hl7 message refused: no readable MSH-10');
      const before = refused().length;
      // The check deploy/haproxy/haproxy.cfg sends every second to every instance.
      const check = parseAck(await c.request(Buffer.from('MSH|^~\\&|HAPROXY|CHECK|||||ACK||P|2.5\r')));
      expect([check.code, check.acknowledges]).toEqual(['AR', undefined]);
      const noId = parseAck(await c.request(withControlId(S17, '')));
      expect(noId.code).toBe('AR');
      expect(
        refused()
          .slice(before)
          .map((l) => l.level),
      ).toEqual(['debug', 'warn']);
      c.destroy();
    });

    it('answers AR for bytes invalid in the declared character set, in that character set', async () => {
      const c = await RawMllpSocket.connect(h.port);
      // UTF-8 declared, a lone Latin-1 byte inside.
      const msg = Buffer.concat([
        hl7(
          'MSH|^~\\&|APP|FAC|PASSERELLE|GW|20250316184512||SIU^S12^SIU_S12|CHARSET-1|P|2.5.1|||||FRA|UNICODE UTF-8',
        ),
        Buffer.from([0x4e, 0x54, 0x45, 0x7c, 0x31, 0x7c, 0x7c, 0xe9, 0x0d]),
      ]);
      const ack = parseAck(await c.request(msg));
      expect([ack.code, ack.acknowledges, ack.message.get('ERR-3.1')]).toEqual(['AR', 'CHARSET-1', '102']);
      c.destroy();
    });

    it('answers a Latin-1 message in Latin-1', async () => {
      const c = await RawMllpSocket.connect(h.port);
      const block = await c.request(withControlId(hl7Fixture('siu-s15-cancel-latin1'), 'LATIN-1'));
      const ack = parseAck(block);
      expect([ack.code, ack.message.get('MSH-18')]).toEqual(['CA', '8859/1']);
      expect(decodeBytes(block, '8859/1')).toContain('LATIN-1');
      c.destroy();
    });
  });

  it('answers AR (original) or CE (enhanced) with "send again later" when the message could not be committed, and stores nothing', async () => {
    const c = await RawMllpSocket.connect(h.port);
    failNext = 2;
    const original = parseAck(await c.request(withControlId(S17, 'DOWN-1')));
    expect([original.code, original.message.get('ERR-1.4.1')]).toEqual(['AR', '207']);
    expect(original.message.get('MSA-3')).toMatch(/send it again later/);
    const enhanced = parseAck(await c.request(withControlId(S12, 'DOWN-2')));
    expect(enhanced.code).toBe('CE');
    expect(
      (await h.store.inbox.list({ linkId: h.link.id, limit: 1000 })).some((e) =>
        /\|DOWN-\d$/.test(e.dedupeKey),
      ),
    ).toBe(false);
    // Sent again once the store is back: applied.
    expect(parseAck(await c.request(withControlId(S17, 'DOWN-1'))).code).toBe('AA');
    c.destroy();
  });
});

describe('MLLP listener with reusedControlId: reject', () => {
  let h: Hl7LinkHarness;
  beforeAll(async () => {
    h = await startHl7Link({ config: listenConfig({ reusedControlId: 'reject' }) });
  });
  afterAll(async () => {
    await h.dispose();
  });

  it('answers AE (205, ERR-2 = MSH-10) to a reused control id with another body, keeps it in dead letters and does not apply it', async () => {
    const c = await RawMllpSocket.connect(h.port);
    const first = withControlId(withField(withField(S12, 'MSH', 15, ''), 'MSH', 16, ''), 'REUSED-R');
    const second = withField(first, 'SCH', 2, 'RDV000777^LOGICIEL-CABINET');
    expect(parseAck(await c.request(first)).code).toBe('AA');
    const ack = parseAck(await c.request(second));
    expect([
      ack.code,
      ack.acknowledges,
      ack.message.get('ERR-2.1'),
      ack.message.get('ERR-2.3'),
      ack.message.get('ERR-3.1'),
    ]).toEqual(['AE', 'REUSED-R', 'MSH', '10', '205']);
    expect(await h.store.identityMap.findCanonical(h.link.id, 'Appointment', 'RDV000777')).toBeUndefined();
    const dl = await h.store.deadLetters.list({ linkId: h.link.id });
    expect(dl.map((d) => d.reasonCode)).toContain('ERR_HL7_REUSED_CONTROL_ID');
    // A resend of that second message gets the same AE back, byte for byte.
    const again = await c.request(second);
    expect(again.equals(c.blocks[1] as Buffer)).toBe(true);
    // The operator replays it: now it is applied.
    const replay = await h.runtime.operator.replayDeadLetter(
      (dl.find((d) => d.reasonCode === 'ERR_HL7_REUSED_CONTROL_ID') as { id: string }).id,
      { id: 'test', role: 'admin', via: 'test' },
    );
    expect(replay.outcome).toBe('applied');
    expect(await h.store.identityMap.findCanonical(h.link.id, 'Appointment', 'RDV000777')).toBeDefined();
    c.destroy();
  });

  it('answers CE to a reused control id in enhanced mode', async () => {
    const c = await RawMllpSocket.connect(h.port);
    const first = withControlId(S12, 'REUSED-E');
    expect(parseAck(await c.request(first)).code).toBe('CA');
    const ack = parseAck(await c.request(withField(first, 'SCH', 2, 'RDV000778^LOGICIEL-CABINET')));
    expect([ack.code, ack.message.get('ERR-3.1')]).toEqual(['CE', '205']);
    c.destroy();
  });
});

describe('MLLP listener idle timeout', () => {
  let h: Hl7LinkHarness;
  beforeAll(async () => {
    h = await startHl7Link({ config: listenConfig({}, { idleTimeoutMs: 150 }) });
  });
  afterAll(async () => {
    await h.dispose();
  });

  it('closes a connection that stays idle, after answering what it sent', async () => {
    const c = await RawMllpSocket.connect(h.port);
    expect(parseAck(await c.request(withControlId(S17, 'IDLE-1'))).code).toBe('AA');
    await c.closed;
    expect(c.isOpen).toBe(false);
  });
});
