import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { foldLine, foldText } from '../../src/ical/fold.js';

/** RFC 5545 §3.1 unfolding: a CRLF followed by one space or tab disappears. */
const unfold = (s: string) => s.replace(/\r\n[ \t]/g, '');

describe('line folding (RFC 5545 §3.1)', () => {
  it('leaves lines of 75 octets or fewer as they are', () => {
    const line = `SUMMARY:${'a'.repeat(67)}`;
    expect(Buffer.byteLength(line)).toBe(75);
    expect(foldLine(line)).toBe(line);
  });

  it('folds a long line into lines of at most 75 octets that unfold to the original', () => {
    const line = `DESCRIPTION:${'Téléphone : +33612345678 — Motif : contrôle '.repeat(6)}`;
    const folded = foldLine(line);
    for (const l of folded.split('\r\n')) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(75);
    expect(unfold(folded)).toBe(line);
  });

  it('never splits a UTF-8 sequence, emoji included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (s) => {
        const line = `SUMMARY:${s.replace(/[\r\n]/g, ' ')}`;
        const folded = foldLine(line);
        for (const l of folded.split('\r\n')) {
          expect(Buffer.byteLength(l)).toBeLessThanOrEqual(75);
          // A split inside a sequence would leave a lone surrogate or replacement character.
          expect(Buffer.from(l, 'utf8').toString('utf8')).toBe(l);
        }
        expect(unfold(folded)).toBe(line);
      }),
      { numRuns: 300 },
    );
  });

  it('folds each line of a text separately', () => {
    const text = `A:${'x'.repeat(100)}\r\nB:short`;
    expect(foldText(text).split('\r\n')).toEqual([`A:${'x'.repeat(73)}`, ` ${'x'.repeat(27)}`, 'B:short']);
  });
});
