import { describe, expect, it } from '@jest/globals';

import { splitMessages } from '../../../../connectors/hl7v2/file-drop/split.js';
import { hl7Fixture } from '../../../helpers/hl7.js';

const S12 = hl7Fixture('siu-s12-new-appointment');
const A04 = hl7Fixture('adt-a04-registration-crlf');
const A08 = hl7Fixture('adt-a08-update-lf');
const A31 = hl7Fixture('adt-a31-update-custom-delimiters');

describe('splitting a dropped file into messages', () => {
  it('keeps a single message exactly as written', () => {
    const { messages, strayBytes } = splitMessages(S12);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.equals(S12)).toBe(true);
    expect(strayBytes).toBe(0);
  });

  it('splits messages written with CR, LF and CRLF one after another, each byte for byte', () => {
    const file = Buffer.concat([S12, A04, A08, A31]);
    const { messages, strayBytes } = splitMessages(file);
    expect(messages.map((m) => m.toString('latin1'))).toEqual(
      [S12, A04, A08, A31].map((m) => m.toString('latin1')),
    );
    expect(strayBytes).toBe(0);
  });

  it('drops a batch envelope (FHS/BHS … BTS/FTS) and blank lines between messages', () => {
    const file = Buffer.concat([
      Buffer.from('FHS|^~\\&|LOGICIEL\r\nBHS|^~\\&|LOGICIEL\r\n\r\n'),
      A04,
      Buffer.from('\r\n'),
      A04,
      Buffer.from('BTS|2\r\nFTS|1\r\n'),
    ]);
    const { messages, strayBytes } = splitMessages(file);
    expect(messages).toHaveLength(2);
    expect(messages[0]?.toString('latin1')).toBe(`${A04.toString('latin1')}\r\n`);
    expect(messages[1]?.equals(A04)).toBe(true);
    expect(strayBytes).toBe(0);
  });

  it('skips a UTF-8 byte order mark and counts text before the first MSH as stray', () => {
    const file = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('hello\n'), S12]);
    const { messages, strayBytes } = splitMessages(file);
    expect(messages).toHaveLength(1);
    expect(strayBytes).toBe(5);
  });

  it('finds nothing in a file without an MSH line', () => {
    expect(splitMessages(Buffer.from('PID|1||X\r')).messages).toHaveLength(0);
    expect(splitMessages(Buffer.alloc(0)).messages).toHaveLength(0);
  });

  it('does not take a segment whose name merely starts with MSH letters for a message start', () => {
    const { messages } = splitMessages(
      Buffer.from('MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5\rMSHX|not a header\r'),
    );
    expect(messages).toHaveLength(1);
  });
});
