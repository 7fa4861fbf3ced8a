import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { DEFAULT_DELIMITERS, type Hl7Delimiters } from '../../src/hl7/delimiters.js';
import { escapeHl7, unescapeHl7 } from '../../src/hl7/escape.js';

const D = DEFAULT_DELIMITERS;
const CUSTOM: Hl7Delimiters = { field: '!', component: '@', repetition: '%', escape: '$', subcomponent: '#' };

describe('HL7 escape sequences (v2.5.1 §2.7)', () => {
  it('resolves the delimiter escapes with the message delimiters', () => {
    expect(unescapeHl7('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f', D)).toBe('a|b^c&d~e\\f');
    expect(unescapeHl7('a$F$b$S$c$T$d$R$e$E$f', CUSTOM)).toBe('a!b@c#d%e$f');
  });

  it('decodes hexadecimal data in the message character set', () => {
    expect(unescapeHl7('line\\X0D0A\\next', D)).toBe('line\r\nnext');
    expect(unescapeHl7('caf\\XC3A9\\', D, 'UNICODE UTF-8')).toBe('café');
    expect(unescapeHl7('caf\\XE9\\', D, '8859/1')).toBe('café');
    expect(unescapeHl7('\\Xa4\\', D, '8859/15')).toBe('€');
    expect(unescapeHl7('\\X80\\', D, 'windows-1252')).toBe('€');
  });

  it('keeps malformed hexadecimal data literally', () => {
    expect(unescapeHl7('\\X\\', D)).toBe('\\X\\');
    expect(unescapeHl7('\\X0\\', D)).toBe('\\X0\\');
    expect(unescapeHl7('\\XZZ\\', D)).toBe('\\XZZ\\');
    // 0xE9 alone is not UTF-8: kept as written rather than turned into U+FFFD.
    expect(unescapeHl7('caf\\XE9\\', D, 'UNICODE UTF-8')).toBe('caf\\XE9\\');
  });

  it('turns formatting commands into plain text and drops highlighting', () => {
    expect(unescapeHl7('a\\.br\\b', D)).toBe('a\nb');
    expect(unescapeHl7('a\\.sp\\b\\.sp3\\c', D)).toBe('a\nb\n\n\nc');
    expect(unescapeHl7('a\\.ce\\b', D)).toBe('a\nb');
    expect(unescapeHl7('a\\.sk2\\b', D)).toBe('a  b');
    expect(unescapeHl7('\\.in+4\\\\.ti-2\\\\.fi\\\\.nf\\text', D)).toBe('text');
    expect(unescapeHl7('\\H\\Important\\N\\ note', D)).toBe('Important note');
  });

  it('bounds the expansion of repeat counts', () => {
    expect(unescapeHl7('\\.sp999999999\\', D)).toBe('\n'.repeat(100));
    expect(unescapeHl7('\\.sk999999999\\', D)).toBe(' '.repeat(100));
  });

  it('keeps unknown, local and unterminated sequences literally', () => {
    expect(unescapeHl7('\\Zloc\\', D)).toBe('\\Zloc\\');
    expect(unescapeHl7('\\C2842\\', D)).toBe('\\C2842\\');
    expect(unescapeHl7('\\Q\\', D)).toBe('\\Q\\');
    expect(unescapeHl7('\\.xx\\', D)).toBe('\\.xx\\');
    expect(unescapeHl7('C:\\temp', D)).toBe('C:\\temp');
    expect(unescapeHl7('a\\\\b', D)).toBe('a\\\\b');
    expect(unescapeHl7('end\\', D)).toBe('end\\');
  });

  it('escapes delimiters and line breaks', () => {
    expect(escapeHl7('a|b^c&d~e\\f', D)).toBe('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f');
    expect(escapeHl7('l1\r\nl2', D)).toBe('l1\\X0D\\\\X0A\\l2');
    expect(escapeHl7('jeanne.fictive@example.org', CUSTOM)).toBe('jeanne.fictive$S$example.org');
    expect(escapeHl7('plain text é', D)).toBe('plain text é');
  });

  it('unescapes what it escaped, for any text and any valid delimiters', () => {
    const delims = fc
      .shuffledSubarray([...'|^~\\&!@#$%*+/:;<=>?_`{}'], { minLength: 5, maxLength: 5 })
      .map(
        ([field, component, repetition, escape, subcomponent]) =>
          ({ field, component, repetition, escape, subcomponent }) as Hl7Delimiters,
      );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), delims, (s, d) => {
        const escaped = escapeHl7(s, d);
        for (const c of [d.field, d.component, d.repetition, d.subcomponent, '\r', '\n']) {
          expect(escaped.includes(c)).toBe(false);
        }
        expect(unescapeHl7(escaped, d)).toBe(s);
      }),
      { numRuns: 500 },
    );
  });
});
