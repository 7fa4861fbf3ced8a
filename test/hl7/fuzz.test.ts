/**
 * Robustness: whatever bytes arrive (MLLP frames and dropped files come from software we do not
 * control), parsing and reading throw nothing but PasserelleError with an HL7 code, never a
 * TypeError or RangeError, and a reject ACK can always be built. Runs are bounded so the suite
 * stays fast.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { PasserelleError } from '../../src/errors.js';
import { buildAck, buildRejectAck } from '../../src/hl7/ack.js';
import { type Hl7Message, parseHl7, type ParseHl7Options } from '../../src/hl7/message.js';
import { HL7_FIXTURES, naiveLeaves, readHl7Fixture } from '../helpers/hl7-leaf-paths.js';

const PARSE_CODES = ['ERR_HL7_PARSE', 'ERR_HL7_CHARSET'];
const AT = { controlId: 'ACK-FUZZ', timestamp: '20250316184513+0100' } as const;

/** Calls fn; a throw is fine only if it is a PasserelleError with one of `codes`. */
function onlyTyped<T>(fn: () => T, codes: readonly string[]): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof PasserelleError) || !codes.includes(e.code)) {
      throw new Error(
        `expected a PasserelleError ${codes.join('/')}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
        { cause: e },
      );
    }
    return undefined;
  }
}

/** Reads everything a caller could: header, segments, every leaf, beyond-the-end paths, an ACK. */
function exercise(msg: Hl7Message): void {
  void msg.header.messageType;
  void JSON.stringify(msg);
  const segments = msg.segments();
  expect(segments[0]?.name).toBe('MSH');
  for (const leaf of naiveLeaves(msg.text, msg.delimiters)) {
    msg.get(leaf.path);
    msg.getEncoded(leaf.path);
    msg.getAll(`${leaf.segment}[${leaf.occurrence}]-${leaf.field}[*].${leaf.component}.${leaf.subcomponent}`);
  }
  for (const s of segments) {
    msg.get(`${s.name}[${s.occurrence}]-99[9].9.9`);
    msg.getAll(`${s.name}[${s.occurrence}]-1`);
    msg.getEncoded(`${s.name}[${s.occurrence}]-1`);
  }
  onlyTyped(
    () =>
      buildAck(msg, { code: 'AE', error: { path: 'PID-3[2].4', hl7ErrorCode: '102', message: 'fuzz' } }, AT),
    ['ERR_HL7_BUILD'],
  );
}

function parseAndRead(input: Buffer | string, options?: ParseHl7Options): void {
  const msg = onlyTyped(() => parseHl7(input, options), PARSE_CODES);
  if (msg !== undefined) exercise(msg);
  // A rejection can always be sent, and it always parses.
  const reject = buildRejectAck(input, { error: { hl7ErrorCode: '100' } }, AT);
  expect(parseHl7(reject.bytes).get('MSA-1')).toBe('AR');
}

const optionsArb: fc.Arbitrary<ParseHl7Options> = fc.oneof(
  fc.constant({}),
  fc
    .constantFrom('8859/1', 'windows-1252', 'ASCII', 'UNICODE UTF-8', 'EBCDIC')
    .map((c) => ({ defaultCharset: c })),
  fc.constantFrom('8859/15', 'UNICODE UTF-8').map((c) => ({ charsetOverride: c })),
);

/** Bytes that matter to an HL7 parser, so mutations hit structure more often than text. */
const interestingByte = fc.oneof(
  fc.constantFrom(
    ...[...'|^~\\&\r\nMSHX.0F'].map((c) => c.charCodeAt(0)),
    0x00,
    0x0b,
    0x1c,
    0x80,
    0xc3,
    0xe9,
    0xef,
    0xff,
  ),
  fc.integer({ min: 0, max: 255 }),
);
const mutationArb: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('replace' as const, 'insert' as const, 'delete' as const),
    byte: interestingByte,
    length: fc.integer({ min: 1, max: 40 }),
  }),
  { minLength: 1, maxLength: 6 },
);

interface Mutation {
  at: number;
  kind: 'replace' | 'insert' | 'delete';
  byte: number;
  length: number;
}

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'replace') out[at] = m.byte;
    else if (m.kind === 'insert')
      out = Buffer.concat([out.subarray(0, at), Buffer.alloc(1 + (m.length % 3), m.byte), out.subarray(at)]);
    else out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
  }
  return out;
}

describe('parseHl7 on hostile input', () => {
  it('throws only typed errors on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), optionsArb, (bytes, options) =>
        parseAndRead(Buffer.from(bytes), options),
      ),
      { numRuns: 1000 },
    );
  });

  it('throws only typed errors on random text behind a valid-looking MSH', () => {
    const prefix = fc.constantFrom(
      'MSH|^~\\&|',
      'MSH|^~\\&|A|B|C|D|2025||ADT^A08|1|P|2.5|||||',
      'MSH!@%$#!',
      'MSH|^~\\&#|',
      'MSH|',
      'MSH',
    );
    const body = fc.string({ unit: fc.constantFrom(...'|^~\\&#!@%$\r\nAPIDMSHZ019.X FE'), maxLength: 200 });
    fc.assert(
      fc.property(prefix, body, fc.boolean(), (p, b, asBytes) =>
        parseAndRead(asBytes ? Buffer.from(p + b, 'latin1') : p + b),
      ),
      { numRuns: 1000 },
    );
  });

  it.each(HL7_FIXTURES)('throws only typed errors on every truncation of %s', (name) => {
    const bytes = readHl7Fixture(name);
    let parsed = 0;
    for (let end = 0; end <= bytes.length; end++) {
      const msg = onlyTyped(() => parseHl7(bytes.subarray(0, end)), PARSE_CODES);
      if (msg !== undefined) {
        exercise(msg);
        parsed++;
      }
    }
    // Truncations after the MSH-2 encoding characters parse (a message cut short is still one).
    expect(parsed).toBeGreaterThan(bytes.length / 2);
  });

  it.each(HL7_FIXTURES)('throws only typed errors on random mutations of %s', (name) => {
    const bytes = readHl7Fixture(name);
    fc.assert(
      fc.property(mutationArb, optionsArb, (mutations, options) =>
        parseAndRead(mutate(bytes, mutations), options),
      ),
      { numRuns: 150 },
    );
  });
});
