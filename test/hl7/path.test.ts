import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { PasserelleError } from '../../src/errors.js';
import { formatHl7Path, hl7Path, parseHl7Path } from '../../src/hl7/path.js';

function pathError(input: string): PasserelleError {
  try {
    parseHl7Path(input);
  } catch (e) {
    if (e instanceof PasserelleError) return e;
    throw e;
  }
  throw new Error(`expected ${input} to be rejected`);
}

describe('HL7 paths', () => {
  it('parses every form the mapping profiles use', () => {
    expect(parseHl7Path('PID-5[1].1')).toEqual({
      segment: 'PID',
      occurrence: undefined,
      field: 5,
      repetition: 1,
      component: 1,
      subcomponent: undefined,
    });
    expect(parseHl7Path('SCH-11.4')).toEqual({
      segment: 'SCH',
      occurrence: undefined,
      field: 11,
      repetition: undefined,
      component: 4,
      subcomponent: undefined,
    });
    expect(parseHl7Path('AIS-3.1')).toMatchObject({ segment: 'AIS', field: 3, component: 1 });
    expect(parseHl7Path('PID-3[2].4.2')).toEqual({
      segment: 'PID',
      occurrence: undefined,
      field: 3,
      repetition: 2,
      component: 4,
      subcomponent: 2,
    });
    expect(parseHl7Path('OBX[2]-5')).toEqual({
      segment: 'OBX',
      occurrence: 2,
      field: 5,
      repetition: undefined,
      component: undefined,
      subcomponent: undefined,
    });
    expect(parseHl7Path('PID-3[*].1')).toMatchObject({ repetition: '*', component: 1 });
    expect(parseHl7Path('ZRV-3.1.2')).toMatchObject({
      segment: 'ZRV',
      field: 3,
      component: 1,
      subcomponent: 2,
    });
    expect(parseHl7Path('MSH-1')).toMatchObject({ segment: 'MSH', field: 1 });
  });

  it('names the problem in the error message', () => {
    expect(pathError('PID-0').message).toBe('PID-0: field numbers start at 1');
    expect(pathError('PID-0').code).toBe('ERR_HL7_PATH_INVALID');
    expect(pathError('OBX[0]-5').message).toBe('OBX[0]-5: segment occurrence numbers start at 1');
    expect(pathError('PID-3[0]').message).toBe('PID-3[0]: repetition numbers start at 1');
    expect(pathError('PID-5.0').message).toBe('PID-5.0: component numbers start at 1');
    expect(pathError('PID-5.1.0').message).toBe('PID-5.1.0: sub-component numbers start at 1');
    expect(pathError('pid-5').message).toMatch(/^pid-5: a path starts with a 3-character segment name/);
    expect(pathError('PID5').message).toBe(
      "PID5: expected '-' and a field number after the segment name at position 4",
    );
    expect(pathError('PID-').message).toBe('PID-: expected a field number at position 5');
    expect(pathError('PID-3[2').message).toBe("PID-3[2: expected ']' after the repetition at position 8");
    expect(pathError('OBX[*]-5').message).toMatch(/\[\*\] is only allowed on a field repetition/);
    expect(pathError('PID-5.1.2.3').message).toBe("PID-5.1.2.3: unexpected '.' at position 10");
    expect(pathError('PID-5 ').message).toBe("PID-5 : unexpected ' ' at position 6");
    expect(pathError('PID-123456').message).toMatch(/field number too large/);
    expect(pathError('').message).toBe(': empty path');
    expect(pathError('PID-5.x').details).toEqual({
      path: 'PID-5.x',
      reason: 'expected a component number at position 7',
    });
  });

  it('formats a parsed path back to the same text', () => {
    for (const s of [
      'PID-5[1].1',
      'SCH-11.4',
      'AIS-3.1',
      'PID-3[2].4.2',
      'OBX[2]-5',
      'PID-3[*].1',
      'ZZ1[3]-12[4].5.6',
      'MSH-9',
    ]) {
      expect(formatHl7Path(parseHl7Path(s))).toBe(s);
    }
  });

  it('round-trips any valid path object through text', () => {
    const seg = fc
      .tuple(
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
        fc.constantFrom(...'ABCXYZ0129'),
        fc.constantFrom(...'ABCXYZ0129'),
      )
      .map((t) => t.join(''));
    const n = fc.integer({ min: 1, max: 99_999 });
    const path = fc.record({
      segment: seg,
      occurrence: fc.option(n, { nil: undefined }),
      field: n,
      repetition: fc.option(fc.oneof(n, fc.constant('*' as const)), { nil: undefined }),
      comp: fc.option(fc.tuple(n, fc.option(n, { nil: undefined })), { nil: undefined }),
    });
    fc.assert(
      fc.property(path, (p) => {
        const value = {
          segment: p.segment,
          occurrence: p.occurrence,
          field: p.field,
          repetition: p.repetition,
          component: p.comp?.[0],
          subcomponent: p.comp?.[1],
        };
        expect(parseHl7Path(formatHl7Path(value))).toEqual(value);
      }),
    );
  });

  it('only ever throws ERR_HL7_PATH_INVALID on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        try {
          parseHl7Path(s);
        } catch (e) {
          expect(e).toBeInstanceOf(PasserelleError);
          expect((e as PasserelleError).code).toBe('ERR_HL7_PATH_INVALID');
        }
      }),
    );
  });

  it('builds path objects in code with the same checks', () => {
    expect(hl7Path('PID', 3, { repetition: 2, component: 4, subcomponent: 2 })).toEqual(
      parseHl7Path('PID-3[2].4.2'),
    );
    expect(() => hl7Path('PID', 0)).toThrow('PID-0: field numbers start at 1');
    expect(() => hl7Path('PID', 3, { subcomponent: 2 })).toThrow('a sub-component needs a component');
  });
});
