import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { PasserelleError } from '../../src/errors.js';
import { Hl7MessageBuilder } from '../../src/hl7/builder.js';
import { DEFAULT_DELIMITERS, type Hl7Delimiters } from '../../src/hl7/delimiters.js';
import { parseHl7 } from '../../src/hl7/message.js';
import { readHl7Fixture } from '../helpers/hl7-leaf-paths.js';

const CUSTOM: Hl7Delimiters = { field: '!', component: '@', repetition: '%', escape: '$', subcomponent: '#' };

function buildError(fn: () => unknown): PasserelleError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PasserelleError) return e;
    throw e;
  }
  throw new Error('expected a PasserelleError');
}

/** Any five distinct delimiters HL7 allows (printable ASCII, no letter, digit or space). */
const delimitersArb = fc
  .shuffledSubarray([...'|^~\\&!@#$%*+/:;<=>?_`{}'], { minLength: 5, maxLength: 5 })
  .map(
    ([field, component, repetition, escape, subcomponent]) =>
      ({ field, component, repetition, escape, subcomponent }) as Hl7Delimiters,
  );

/** Text that often holds delimiters, escape characters and line breaks, plus any Unicode. */
const valueArb = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom(
        '|',
        '^',
        '~',
        '\\',
        '&',
        '!',
        '@',
        '%',
        '$',
        '#',
        '\r',
        '\n',
        '\r\n',
        '""',
        '\\F\\',
        '\\X0D\\',
      ),
    ),
    {
      maxLength: 6,
    },
  )
  .map((parts) => parts.join(''));

interface LeafDraft {
  field: number;
  repetition: number;
  component: number;
  subcomponent: number;
  value: string;
}
const leafArb: fc.Arbitrary<LeafDraft> = fc.record({
  field: fc.integer({ min: 1, max: 12 }),
  repetition: fc.integer({ min: 1, max: 3 }),
  component: fc.integer({ min: 1, max: 4 }),
  subcomponent: fc.integer({ min: 1, max: 3 }),
  value: valueArb,
});
const segmentsArb = fc.array(
  fc.record({
    name: fc.constantFrom('PID', 'NTE', 'OBX', 'ZRV', 'Z01'),
    leaves: fc.array(leafArb, { maxLength: 8 }),
  }),
  { maxLength: 6 },
);

describe('Hl7MessageBuilder', () => {
  it('writes MSH-1 and MSH-2 from its delimiters, ends every segment with CR and drops trailing empty delimiters', () => {
    const b = new Hl7MessageBuilder()
      .set('MSH-3', 'PASSERELLE')
      .set('MSH-7', '20250316184512+0100')
      .set('MSH-9.1', 'SIU')
      .set('MSH-9.2', 'S12')
      .set('MSH-9.3', 'SIU_S12')
      .set('MSH-10', 'OUT-1')
      .set('MSH-12', '2.5.1');
    b.set('SCH-2.1', 'RDV000123').set('SCH-11.4', '20250317093000+0100');
    b.set('PID-3[2].4.2', '1.2.250.1.213.1.4.10').set('PID-5.7', '');
    expect(b.toString()).toBe(
      'MSH|^~\\&|PASSERELLE||||20250316184512+0100||SIU^S12^SIU_S12|OUT-1||2.5.1\r' +
        'SCH||RDV000123|||||||||^^^20250317093000+0100\r' +
        'PID|||~^^^&1.2.250.1.213.1.4.10\r',
    );
  });

  it('writes with custom delimiters and escapes with the chosen escape character', () => {
    const b = new Hl7MessageBuilder({ delimiters: CUSTOM }).set('MSH-9.1', 'ADT').set('MSH-9.2', 'A31');
    b.set('PID-13[2].4', 'jeanne.fictive@example.org').set('NTE-3', 'a!b%c#d$e|f^g');
    expect(b.toString()).toBe(
      'MSH!@%$#!!!!!!!ADT@A31\rPID!!!!!!!!!!!!!%@@@jeanne.fictive$S$example.org\rNTE!!!a$F$b$R$c$T$d$E$e|f^g\r',
    );
  });

  it('gives back, after parsing, every value it was given, whatever delimiters the values contain', () => {
    fc.assert(
      fc.property(delimitersArb, segmentsArb, (d, segments) => {
        const b = new Hl7MessageBuilder({ delimiters: d }).set('MSH-9.1', 'ZZZ');
        const expected = new Map<string, string>();
        for (const seg of segments) {
          const n = b.appendSegment(seg.name);
          for (const l of seg.leaves) {
            const path = `${seg.name}[${n}]-${l.field}[${l.repetition}].${l.component}.${l.subcomponent}`;
            b.set(path, l.value);
            expected.set(path, l.value);
          }
        }
        const encoded = b.encode();
        const msg = parseHl7(encoded.bytes);
        expect(msg.delimiters).toEqual(d);
        expect(msg.segments().map((s) => s.name)).toEqual(['MSH', ...segments.map((s) => s.name)]);
        for (const [path, value] of expected) expect(msg.get(path) ?? '').toBe(value);
        // No trailing delimiter anywhere: each segment ends with a value or its name.
        for (const line of encoded.text.split('\r').slice(0, -1)) {
          expect([d.field, d.component, d.repetition, d.subcomponent].includes(line.at(-1) as string)).toBe(
            false,
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('copies an element written with other delimiters, re-escaping every leaf', () => {
    const a31 = parseHl7(readHl7Fixture('adt-a31-update-custom-delimiters.hl7'));
    const b = new Hl7MessageBuilder();
    for (const f of [3, 5, 11, 13])
      b.setEncoded(`PID-${f}`, a31.getEncoded(`PID-${f}`) ?? '', a31.delimiters, a31.charset);
    b.setEncoded('NTE-3', a31.getEncoded('PID-11[1].2') ?? '', a31.delimiters);
    const copy = parseHl7(b.toString());
    for (const path of [
      'PID-3[1].1',
      'PID-3[2].1',
      'PID-3[2].4.2',
      'PID-5[2].1',
      'PID-5[1].7',
      'PID-11.2',
      'PID-13[2].4',
      'PID-13[1].12',
    ]) {
      expect(copy.get(path)).toBe(a31.get(path));
      expect(copy.get(path)).not.toBeUndefined();
    }
    expect(copy.get('PID-11.2')).toBe('Esc. A # 2');
    expect(copy.getEncoded('PID-13[2].4')).toBe('jeanne.fictive@example.org');
    expect(copy.get('NTE-3')).toBe('Esc. A # 2');
  });

  it('copies at the level the path names: a repetition, a component, a sub-component', () => {
    const b = new Hl7MessageBuilder();
    b.setEncoded('PID-3[2]', 'X1^^^AUTH&1.2.3&ISO^PI', DEFAULT_DELIMITERS);
    b.setEncoded('PID-5.1', 'A&B', DEFAULT_DELIMITERS);
    b.setEncoded('PID-5.3.2', 'C\\T\\D', DEFAULT_DELIMITERS);
    expect(b.toString()).toBe('MSH|^~\\&\rPID|||~X1^^^AUTH&1.2.3&ISO^PI||A&B^^&C\\T\\D\r');
  });

  it('encodes to the chosen character set and names the path of a character it cannot carry', () => {
    const b = new Hl7MessageBuilder({ charset: '8859/1' }).set('MSH-18', '8859/1').set('NTE-3', 'Reçu à 9h');
    const { bytes, charset } = b.encode();
    expect(charset).toBe('8859/1');
    expect(bytes.includes(Buffer.from([0xe7]))).toBe(true);
    expect(parseHl7(bytes).get('NTE-3')).toBe('Reçu à 9h');

    const e = buildError(() => b.set('NTE[1]-3.2', 'Coût 10 €'));
    expect(e.code).toBe('ERR_HL7_BUILD');
    expect(e.message).toBe('NTE[1]-3.2: character U+20AC at position 9 cannot be written in 8859/1');
    expect(e.message).not.toContain('Coût');
    expect(buildError(() => new Hl7MessageBuilder().set('NTE-3', 'x\ud800y')).message).toMatch(
      /U\+D800 at position 2 cannot be written in UNICODE UTF-8/,
    );
  });

  it('refuses an MSH-18 that names another charset than the one it writes', () => {
    const b = new Hl7MessageBuilder({ charset: 'UNICODE UTF-8' }).set('MSH-18', '8859/1');
    expect(buildError(() => b.encode()).message).toBe(
      "MSH-18: declares a character set other than the builder's (UNICODE UTF-8)",
    );
  });

  it('refuses paths and names it cannot honour', () => {
    const b = new Hl7MessageBuilder();
    expect(buildError(() => b.set('MSH-1', '#')).message).toBe(
      'MSH-1: MSH-1 and MSH-2 are written from the builder delimiters',
    );
    expect(buildError(() => b.set('MSH-2', '#')).code).toBe('ERR_HL7_BUILD');
    expect(buildError(() => b.set('MSH[2]-3', 'x')).message).toBe(
      'MSH[2]-3: a message has exactly one MSH segment',
    );
    expect(buildError(() => b.set('PID-3[*].1', 'x')).message).toBe(
      'PID-3[*].1: [*] cannot be set; set each repetition [1], [2]…',
    );
    expect(buildError(() => b.set('OBX[2]-5', 'x')).message).toBe(
      'OBX[2]-5: occurrence 2 of OBX needs occurrence 1 first',
    );
    expect(buildError(() => b.set('PID-x', 'x')).code).toBe('ERR_HL7_PATH_INVALID');
    expect(buildError(() => b.appendSegment('pid')).code).toBe('ERR_HL7_BUILD');
    expect(buildError(() => b.appendSegment('MSH')).message).toBe(
      'MSH: a message has exactly one MSH segment, created by the builder',
    );
    expect(
      buildError(() => new Hl7MessageBuilder({ delimiters: { ...DEFAULT_DELIMITERS, component: '|' } }))
        .message,
    ).toBe('MSH-2: the five delimiters must all differ');
  });

  it('numbers appended segments by occurrence and clears a value set to the empty string', () => {
    const b = new Hl7MessageBuilder();
    expect(b.appendSegment('NTE')).toBe(1);
    expect(b.appendSegment('OBX')).toBe(1);
    expect(b.appendSegment('NTE')).toBe(2);
    b.set('NTE[2]-3', 'second').set('NTE-3', 'first').set('OBX-5.3', 'x').set('OBX-5.3', '');
    expect(b.toString()).toBe('MSH|^~\\&\rNTE|||first\rOBX\rNTE|||second\r');
  });
});
