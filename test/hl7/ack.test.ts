import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { PasserelleError } from '../../src/errors.js';
import { buildAck, buildRejectAck, formatHl7Timestamp } from '../../src/hl7/ack.js';
import { parseHl7 } from '../../src/hl7/message.js';
import { HL7_FIXTURES, readHl7Fixture } from '../helpers/hl7-leaf-paths.js';

const AT = { controlId: 'ACK-0001', timestamp: '20250316184513+0100' } as const;

function ackError(fn: () => unknown): PasserelleError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PasserelleError) return e;
    throw e;
  }
  throw new Error('expected a PasserelleError');
}

describe('buildAck', () => {
  it('answers an SIU^S12 v2.5.1 with MSH swapped, ACK^S12^ACK, the same version and MSA-2 = inbound MSH-10', () => {
    const inbound = parseHl7(readHl7Fixture('siu-s12-new-appointment.hl7'));
    const ack = buildAck(inbound, { code: 'AA' }, AT);
    expect(ack.text).toBe(
      'MSH|^~\\&|PASSERELLE|SECRETARIAT-TEST|LOGICIEL-CABINET|CABINET-TEST^1.2.250.1.999.1^ISO|20250316184513+0100||ACK^S12^ACK|ACK-0001|P|2.5.1|||||FRA|UNICODE UTF-8\r' +
        'MSA|AA|MSG-20250316-000101\r',
    );
    const parsed = parseHl7(ack.bytes);
    expect(parsed.header).toMatchObject({
      messageType: 'ACK^S12',
      messageStructure: 'ACK',
      version: '2.5.1',
      controlId: 'ACK-0001',
    });
    expect(parsed.header.sendingApplication.namespaceId).toBe(
      inbound.header.receivingApplication.namespaceId,
    );
    expect(parsed.header.receivingFacility).toEqual(inbound.header.sendingFacility);
    expect(parsed.get('MSA-2')).toBe(inbound.header.controlId);
    expect(parsed.segments('ERR')).toEqual([]);
  });

  it('reports an error in v2.5 with ERR-2 location, ERR-3 table 0357 code, ERR-4 severity and ERR-8 text', () => {
    const inbound = parseHl7(readHl7Fixture('siu-s13-reschedule.hl7'));
    const ack = buildAck(
      inbound,
      {
        code: 'AE',
        error: { path: 'PID-3[2].4.2', hl7ErrorCode: '103', message: 'INS assigning authority: unknown OID' },
      },
      AT,
    );
    const lines = ack.text.split('\r');
    expect(lines[1]).toBe(`MSA|AE|${inbound.header.controlId}`);
    expect(lines[2]).toBe(
      'ERR||PID^1^3^2^4^2|103^Table value not found^HL70357|E||||INS assigning authority: unknown OID',
    );
    const parsed = parseHl7(ack.bytes);
    expect(parsed.get('ERR-2.1')).toBe('PID');
    expect(parsed.get('ERR-3.3')).toBe('HL70357');
    expect(parsed.get('MSA-3')).toBeUndefined();
  });

  it('writes ERR-2 as SEG^occurrence^field^repetition for a field-level path, and W for an accepted message', () => {
    const inbound = parseHl7(readHl7Fixture('siu-s12-new-appointment.hl7'));
    const ack = buildAck(
      inbound,
      { code: 'AA', error: { path: 'AIP[2]-3', hl7ErrorCode: '0', message: 'second resource ignored' } },
      AT,
    );
    expect(ack.text.split('\r')[2]).toBe(
      'ERR||AIP^2^3^1|0^Message accepted^HL70357|W||||second resource ignored',
    );
  });

  it('reports an error in v2.3 with ERR-1 and the text in MSA-3, and MSH-9 without a structure', () => {
    const inbound = parseHl7(readHl7Fixture('siu-s17-delete-v23.hl7'));
    const ack = buildAck(
      inbound,
      { code: 'AE', error: { path: 'SCH-2', hl7ErrorCode: '204', message: 'unknown appointment' } },
      AT,
    );
    const lines = ack.text.split('\r');
    expect(lines[0]).toMatch(/\|ACK\^S17\|ACK-0001\|P\|2\.3$/);
    expect(lines[1]).toBe(`MSA|AE|${inbound.header.controlId}|unknown appointment`);
    expect(lines[2]).toBe('ERR|SCH^1^2^204&Unknown key identifier&HL70357');
  });

  it('uses the v2.4 layout (ERR-1) with the v2.4 three-part MSH-9', () => {
    const inbound = parseHl7(
      'MSH|^~\\&|APP|FAC|PASSERELLE|SEC|20250316||ADT^A08^ADT_A01|C-24|P|2.4\rPID|1||IPP000303\r',
    );
    const ack = buildAck(
      inbound,
      { code: 'AR', error: { hl7ErrorCode: '207', message: 'store unavailable' } },
      AT,
    );
    expect(ack.text).toBe(
      'MSH|^~\\&|PASSERELLE|SEC|APP|FAC|20250316184513+0100||ACK^A08^ACK|ACK-0001|P|2.4\rMSA|AR|C-24|store unavailable\rERR|^^^207&Application internal error&HL70357\r',
    );
  });

  it('keeps the inbound delimiters and the whole MSH-12 (with PAM France extension)', () => {
    const inbound = parseHl7(readHl7Fixture('adt-a31-update-custom-delimiters.hl7'));
    const ack = buildAck(
      inbound,
      { code: 'AE', error: { path: 'PID-13', hl7ErrorCode: '102', message: 'bad e-mail@domain' } },
      AT,
    );
    const lines = ack.text.split('\r');
    expect(lines[0]).toMatch(/^MSH!@%\$#!PASSERELLE!/);
    expect(lines[0]).toContain('!ACK@A31@ACK!ACK-0001!P!2.5@FRA@2.11!');
    expect(lines[2]).toBe('ERR!!PID@1@13@1!102@Data type error@HL70357!E!!!!bad e-mail$S$domain');
    const parsed = parseHl7(ack.bytes);
    expect(parsed.delimiters).toEqual(inbound.delimiters);
    expect(parsed.get('ERR-8')).toBe('bad e-mail@domain');
  });

  it('answers a Latin-1 message in Latin-1, declaring the same MSH-18', () => {
    const inbound = parseHl7(readHl7Fixture('siu-s15-cancel-latin1.hl7'));
    const ack = buildAck(
      inbound,
      { code: 'AE', error: { hl7ErrorCode: '206', message: 'Rendez-vous verrouillé' } },
      AT,
    );
    expect(ack.charset).toBe('8859/1');
    expect(ack.bytes.includes(Buffer.from([0xe9]))).toBe(true);
    const parsed = parseHl7(ack.bytes);
    expect(parsed.header.charset).toBe('8859/1');
    expect(parsed.get('ERR-8')).toBe('Rendez-vous verrouillé');
  });

  it('formats a Date in the practice time zone, summer and winter', () => {
    expect(formatHl7Timestamp(new Date('2025-03-16T17:45:13Z'))).toBe('20250316184513+0100');
    expect(formatHl7Timestamp(new Date('2025-07-01T08:00:00Z'))).toBe('20250701100000+0200');
    expect(formatHl7Timestamp(new Date('2025-07-01T08:00:00Z'), 'America/Martinique')).toBe(
      '20250701040000-0400',
    );
    const inbound = parseHl7(readHl7Fixture('siu-s12-new-appointment.hl7'));
    expect(
      buildAck(inbound, { code: 'AA' }, { controlId: 'A', timestamp: new Date('2025-03-16T17:45:13Z') }).text,
    ).toContain('|20250316184513+0100||ACK^S12^ACK|');
    expect(ackError(() => formatHl7Timestamp(new Date(), 'Mars/Olympus')).code).toBe('ERR_HL7_BUILD');
  });

  it('refuses codes outside tables 0008 and 0357', () => {
    const inbound = parseHl7(readHl7Fixture('siu-s12-new-appointment.hl7'));
    expect(ackError(() => buildAck(inbound, { code: 'OK' as 'AA' }, AT)).message).toBe(
      "MSA-1: 'OK' is not an acknowledgment code (AA, AE, AR, CA, CE, CR)",
    );
    expect(
      ackError(() => buildAck(inbound, { code: 'AE', error: { hl7ErrorCode: '999' as '0' } }, AT)).message,
    ).toBe("ERR-3: '999' is not an HL7 table 0357 code");
  });

  it.each(HL7_FIXTURES)('acknowledges %s with a message that parses back', (name) => {
    const inbound = parseHl7(readHl7Fixture(name));
    const parsed = parseHl7(buildAck(inbound, { code: 'CA' }, AT).bytes);
    expect(parsed.get('MSA-1')).toBe('CA');
    expect(parsed.get('MSA-2')).toBe(inbound.header.controlId);
    expect(parsed.header.triggerEvent).toBe(inbound.header.triggerEvent);
    expect(parsed.getEncoded('MSH-12')).toBe(inbound.getEncoded('MSH-12'));
    expect(parsed.delimiters).toEqual(inbound.delimiters);
  });
});

describe('buildRejectAck (input that cannot be parsed)', () => {
  it('recovers the control id, sender, trigger and version from the first line of a broken message', () => {
    const broken =
      'MSH|^~\\&|APP|FAC^1.2.3^ISO|PASSERELLE|SEC|20250316||SIU^S12^SIU_S12|CTRL-99|P|2.5\rFICTIVE Jeanne 1985\r';
    expect(ackError(() => parseHl7(broken)).code).toBe('ERR_HL7_PARSE');
    const ack = buildRejectAck(
      broken,
      { error: { path: 'MSH-9', hl7ErrorCode: '100', message: 'segment 2: expected a segment name' } },
      AT,
    );
    expect(ack.text).toBe(
      'MSH|^~\\&|PASSERELLE|SEC|APP|FAC^1.2.3^ISO|20250316184513+0100||ACK^S12^ACK|ACK-0001|P|2.5\r' +
        'MSA|AR|CTRL-99\r' +
        'ERR||MSH^1^9^1|100^Segment sequence error^HL70357|E||||segment 2: expected a segment name\r',
    );
    expect(ack.text).not.toContain('FICTIVE');
  });

  it('keeps custom delimiters and a declared Latin-1 charset when they can be read', () => {
    const bytes = Buffer.from(
      'MSH!@%$#!APP!Cabinet Léa!PASSERELLE!SEC!2025!!ADT@A31@ADT_A05!C$F$1!P!2.4!!!!!!8859/1\rPID!!!\x00\r',
      'latin1',
    );
    const ack = buildRejectAck(bytes, { code: 'CR', error: { hl7ErrorCode: '102' } }, AT);
    expect(ack.charset).toBe('8859/1');
    expect(ack.text).toBe(
      'MSH!@%$#!PASSERELLE!SEC!APP!Cabinet Léa!20250316184513+0100!!ACK@A31@ACK!ACK-0001!P!2.4!!!!!!8859/1\rMSA!CR!C$F$1\rERR!@@@102#Data type error#HL70357\r',
    );
  });

  it('drops recovered values that do not decode in the declared charset rather than mangling them', () => {
    const bytes = Buffer.concat([
      Buffer.from('MSH|^~\\&|APP|Cabinet L', 'latin1'),
      Buffer.from([0xe9, 0x61]),
      Buffer.from('|P|S|2025||ADT^A08|C1|P|2.5||||||UNICODE UTF-8\r'),
    ]);
    const ack = buildRejectAck(bytes, { error: { hl7ErrorCode: '100' } }, AT);
    expect(ack.text.split('\r')[0]).toBe(
      'MSH|^~\\&|P|S|APP||20250316184513+0100||ACK^A08^ACK|ACK-0001|P|2.5||||||UNICODE UTF-8',
    );
    expect(ack.text.split('\r')[1]).toBe('MSA|AR|C1');
  });

  it('falls back to |^~\\& and an empty MSA-2 when nothing can be recovered', () => {
    const ack = buildRejectAck(
      Buffer.from([0x0b, 0x00, 0xff, 0x1c]),
      { error: { hl7ErrorCode: '100' } },
      { ...AT, sendingApplication: 'PASSERELLE', sendingFacility: 'GW' },
    );
    expect(ack.text).toBe(
      'MSH|^~\\&|PASSERELLE|GW|||20250316184513+0100||ACK^^ACK|ACK-0001|P|2.5\rMSA|AR\rERR|||100^Segment sequence error^HL70357|E\r',
    );
  });

  it('does not copy an MSH-18 that holds the escape character (found by the fuzz test: MSH-2 ^~-&)', () => {
    // MSH-18 is read as written; re-escaped, "UTF-8" would become "UTF-E-8" and the ACK would not parse.
    const bytes = Buffer.from(
      'MSH|^~-&|A\x00P|FAC|PASSERELLE|SEC|2025||SIU^S14^SIU_S12|C-14|P|2.5|||AL|NE||UNICODE UTF-8\rSCH|\x00\r',
      'latin1',
    );
    const reject = buildRejectAck(bytes, { error: { hl7ErrorCode: '100' } }, AT);
    expect(parseHl7(reject.bytes).get('MSA-2')).toBe('C-14');
    expect(reject.text.split('\r')[0]).not.toContain('UTF');
    const parsed = parseHl7(
      'MSH|^~-&|APP|FAC|PASSERELLE|SEC|2025||ADT^A08|C-15|P|2.5||||||UNICODE UTF-8\rPID|1\r',
    );
    const ack = buildAck(parsed, { code: 'AA' }, AT);
    expect(parseHl7(ack.bytes).get('MSA-2')).toBe('C-15');
  });

  it('never throws and always gives a parseable AR, whatever the input', () => {
    const mshPrefix = fc.constantFrom(
      '',
      'MSH|^~\\&|',
      'MSH|^~\\&|A|B|C|D|2025||SIU^S12|',
      'MSH!@%$#!',
      'MSH|^^\\&|',
      '\x0bMSH|^~\\&|',
    );
    const tail = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({
        unit: fc.constantFrom('|', '^', '~', '\\', '&', '\r', '\n', 'A', '1', '.', 'é', '€'),
        maxLength: 120,
      }),
    );
    const asBytes = fc.boolean();
    fc.assert(
      fc.property(mshPrefix, tail, asBytes, (prefix, rest, bytes) => {
        const input = bytes ? Buffer.from(prefix + rest, 'latin1') : prefix + rest;
        const ack = buildRejectAck(input, { error: { hl7ErrorCode: '100', message: 'unparseable' } }, AT);
        const parsed = parseHl7(ack.bytes);
        expect(parsed.get('MSA-1')).toBe('AR');
        expect(parsed.header.messageCode).toBe('ACK');
        expect(parsed.header.controlId).toBe('ACK-0001');
      }),
      { numRuns: 1000 },
    );
  });
});
