import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { encodeFrame, MllpDecoder, type MllpEvent } from '../../src/hl7/framing.js';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;
const b = (s: string) => Buffer.from(s, 'latin1');

function decodeAll(chunks: Buffer[], max = 1 << 20): MllpEvent[] {
  const d = new MllpDecoder({ maxMessageBytes: max, headBytes: 16 });
  return [...chunks.flatMap((c) => d.push(c)), ...d.end()];
}

/** Events with payloads as strings, junk counts merged, for comparing whatever the chunking. */
function normalize(events: MllpEvent[]): unknown[] {
  const out: unknown[] = [];
  for (const e of events) {
    if (e.type === 'junk') {
      const last = out.at(-1) as { junk?: number } | undefined;
      if (last && last.junk !== undefined) last.junk += e.bytes;
      else out.push({ junk: e.bytes });
    } else if (e.type === 'oversize') out.push({ oversize: e.size, head: e.head.toString('latin1') });
    else out.push({ [e.type]: e.payload.toString('latin1') });
  }
  return out;
}

describe('MLLP framing', () => {
  it('wraps a payload in <VT> … <FS><CR>', () => {
    expect([...encodeFrame(b('MSH|x'))]).toEqual([VT, ...b('MSH|x'), FS, CR]);
  });

  it('decodes several blocks from one chunk', () => {
    const events = decodeAll([
      Buffer.concat([encodeFrame(b('A')), encodeFrame(b('B')), encodeFrame(b('C'))]),
    ]);
    expect(normalize(events)).toEqual([{ message: 'A' }, { message: 'B' }, { message: 'C' }]);
  });

  it('reassembles a block delivered one byte per chunk, including a <CR> split from its <FS>', () => {
    const bytes = Buffer.concat([encodeFrame(b('MSH|one')), encodeFrame(b('MSH|two'))]);
    const chunks = [...bytes].map((x) => Buffer.from([x]));
    expect(normalize(decodeAll(chunks))).toEqual([{ message: 'MSH|one' }, { message: 'MSH|two' }]);
  });

  it('reports bytes before the first start block as junk, but not CR and LF between blocks', () => {
    const events = decodeAll([
      Buffer.concat([b('noise'), encodeFrame(b('A')), b('\r\n'), encodeFrame(b('B'))]),
    ]);
    expect(normalize(events)).toEqual([{ junk: 5 }, { message: 'A' }, { message: 'B' }]);
  });

  it('ends a block at <FS> even without the <CR> (release 1 senders)', () => {
    const events = decodeAll([
      Buffer.concat([Buffer.from([VT]), b('A'), Buffer.from([FS, VT]), b('B'), Buffer.from([FS, CR])]),
    ]);
    expect(normalize(events)).toEqual([{ message: 'A' }, { message: 'B' }]);
  });

  it('reports a block cut short by a new start block, then decodes the new block', () => {
    const events = decodeAll([Buffer.concat([Buffer.from([VT]), b('MSH|cut'), encodeFrame(b('MSH|whole'))])]);
    expect(normalize(events)).toEqual([{ unterminated: 'MSH|cut' }, { message: 'MSH|whole' }]);
  });

  it('reports a block still open when the stream ends', () => {
    expect(normalize(decodeAll([Buffer.concat([Buffer.from([VT]), b('MSH|half')])]))).toEqual([
      { unterminated: 'MSH|half' },
    ]);
  });

  it('keeps only the head of an oversize block, counts its size, and decodes the next block', () => {
    const big = b('MSH|'.padEnd(100, 'x'));
    const events = decodeAll(
      [encodeFrame(big).subarray(0, 50), encodeFrame(big).subarray(50), encodeFrame(b('MSH|ok'))],
      64,
    );
    expect(normalize(events)).toEqual([
      { oversize: 100, head: big.subarray(0, 16).toString('latin1') },
      { message: 'MSH|ok' },
    ]);
  });

  it('reports only the head of a cut-short block that grew past the limit, however it was chunked', () => {
    // Found by the property below (seed 970449794): 17 bytes within the limit, then 5 more.
    const stream = Buffer.concat([Buffer.from([VT]), Buffer.alloc(22, 0x41)]);
    const whole = normalize(decodeAll([stream], 17));
    expect(whole).toEqual([{ unterminated: 'A'.repeat(16) }]);
    expect(normalize(decodeAll([stream.subarray(0, 18), stream.subarray(18)], 17))).toEqual(whole);
  });

  it('gives the same events however the stream is cut into chunks (property)', () => {
    const payload = fc
      .uint8Array({ maxLength: 60 })
      .map((a) => Buffer.from(a.filter((x) => x !== VT && x !== FS)));
    const piece = fc.oneof(
      payload.map((p) => encodeFrame(p)),
      payload.map((p) => Buffer.concat([Buffer.from([VT]), p])), // cut short
      fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a)), // anything
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 8, max: 100 }),
        (pieces, cuts, max) => {
          const stream = Buffer.concat(pieces);
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of [...points, stream.length]) {
            chunks.push(stream.subarray(prev, p));
            prev = p;
          }
          expect(normalize(decodeAll(chunks, max))).toEqual(normalize(decodeAll([stream], max)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
