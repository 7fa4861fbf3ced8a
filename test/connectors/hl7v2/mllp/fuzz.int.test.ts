/**
 * Property: whatever arrives on a connection — random bytes, framed or not, truncated or
 * mutated real messages — the listener (real sockets, real engine, SQLite) never crashes, and
 * the sender gets only well-formed ACKs (MSA-1 from table 0008) and then a clean close. After
 * every run, a valid message is still acknowledged.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { MllpDecoder } from '../../../../src/hl7/framing.js';
import { ACK_CODES, parseHl7 } from '../../../../src/hl7/index.js';
import {
  hl7Fixture,
  hl7FixtureNames,
  type Hl7LinkHarness,
  listenConfig,
  parseAck,
  RawMllpSocket,
  startHl7Link,
  withControlId,
} from '../../../helpers/hl7.js';

const FIXTURES = hl7FixtureNames().map((n) => hl7Fixture(n));
const frame = (b: Uint8Array) => Buffer.concat([Buffer.from([0x0b]), b, Buffer.from([0x1c, 0x0d])]);

/** Writes `bytes`, half-closes, and returns everything received until the server closed. */
async function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  const c = await RawMllpSocket.connect(port);
  c.write(bytes);
  c.end();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('the listener did not close the connection')), 15_000).unref(),
  );
  await Promise.race([c.closed, timeout]);
  return c.received;
}

/** Asserts every block received is an ACK; returns how many there were. */
function expectOnlyAcks(received: Buffer): number {
  const events = new MllpDecoder({ maxMessageBytes: 1 << 20 }).push(received);
  for (const e of events) {
    expect(e.type).toBe('message');
    if (e.type !== 'message') continue;
    const ack = parseHl7(e.payload);
    expect(ack.header.messageCode).toBe('ACK');
    expect(ACK_CODES).toContain(ack.get('MSA-1'));
  }
  return events.length;
}

const mutation = fc.record({
  fixture: fc.integer({ min: 0, max: FIXTURES.length - 1 }),
  edits: fc.array(
    fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('replace', 'insert', 'delete'),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

function mutate(m: { fixture: number; edits: { at: number; kind: string; byte: number }[] }): Buffer {
  const bytes = [...(FIXTURES[m.fixture] as Buffer)];
  for (const e of m.edits) {
    const at = e.at % (bytes.length + 1);
    if (e.kind === 'replace' && at < bytes.length) bytes[at] = e.byte;
    else if (e.kind === 'insert') bytes.splice(at, 0, e.byte);
    else if (e.kind === 'delete') bytes.splice(at, 1);
  }
  return Buffer.from(bytes);
}

describe('MLLP listener under arbitrary input (fast-check)', () => {
  let h: Hl7LinkHarness;
  let n = 0;
  beforeAll(async () => {
    h = await startHl7Link({ config: listenConfig({}, { maxMessageBytes: 2048 }) });
  });
  afterAll(async () => {
    await h.dispose();
  });

  async function stillServing(): Promise<void> {
    const c = await RawMllpSocket.connect(h.port);
    const ack = parseAck(await c.request(withControlId(hl7Fixture('siu-s17-delete-v23'), `ALIVE-${n++}`)));
    expect(ack.code).toBe('AA');
    c.destroy();
  }

  it('answers random bytes, framed or not, with well-formed ACKs or nothing, then closes cleanly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), async (bytes, framed) => {
        expectOnlyAcks(await exchange(h.port, framed ? frame(bytes) : Buffer.from(bytes)));
      }),
      { numRuns: 60 },
    );
    await stillServing();
  });

  it('answers every truncation point of real messages with a well-formed ACK or nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: FIXTURES.length - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        async (i, cut, closeBlock) => {
          const f = FIXTURES[i] as Buffer;
          const part = f.subarray(0, Math.floor(f.length * cut));
          const bytes = closeBlock ? frame(part) : Buffer.concat([Buffer.from([0x0b]), part]);
          const received = await exchange(h.port, bytes);
          // A closed block is always answered exactly once (AR when nothing can be read, CA/CR
          // by its MSH-15 otherwise); a block never closed is never answered.
          expect(expectOnlyAcks(received)).toBe(closeBlock ? 1 : 0);
        },
      ),
      { numRuns: 60 },
    );
    await stillServing();
  });

  it('answers randomly mutated real messages with well-formed ACKs, several per connection', async () => {
    let acks = 0;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        sent += mutations.length;
        acks += expectOnlyAcks(await exchange(h.port, Buffer.concat(mutations.map((m) => frame(mutate(m))))));
      }),
      { numRuns: 60 },
    );
    // Not vacuous: most mutated messages still carry a block that is answered.
    expect(acks).toBeGreaterThan(sent / 2);
    await stillServing();
    expect((await h.runtime.status(h.link.id)).state).toBe('running');
  });
});
