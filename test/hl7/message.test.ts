import { inspect } from 'node:util';

import { describe, expect, it } from '@jest/globals';

import { PasserelleError } from '../../src/errors.js';
import { HL7_NULL, parseHl7 } from '../../src/hl7/message.js';
import { parseHl7Path } from '../../src/hl7/path.js';
import { HL7_FIXTURES, readHl7Fixture } from '../helpers/hl7-leaf-paths.js';

function hl7Error(fn: () => unknown): PasserelleError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PasserelleError) return e;
    throw e;
  }
  throw new Error('expected a PasserelleError');
}

const INS_TEST_OID = '1.2.250.1.213.1.4.10';
const IDNPS_OID = '1.2.250.1.71.4.2.1';

describe('parseHl7 on the fixtures', () => {
  it.each(HL7_FIXTURES)('keeps the bytes of %s exactly as received', (name) => {
    const bytes = readHl7Fixture(name);
    const msg = parseHl7(bytes);
    expect(msg.raw.equals(bytes)).toBe(true);
    expect(msg.raw).toBe(bytes);
  });

  it('reads an SIU^S12 the way the SIU mapping needs it', () => {
    const msg = parseHl7(readHl7Fixture('siu-s12-new-appointment.hl7'));
    expect(msg.header).toMatchObject({
      messageCode: 'SIU',
      triggerEvent: 'S12',
      messageStructure: 'SIU_S12',
      messageType: 'SIU^S12',
      controlId: 'MSG-20250316-000101',
      version: '2.5.1',
      processingId: 'P',
      acceptAckType: 'AL',
      applicationAckType: 'NE',
      charset: 'UNICODE UTF-8',
      timestamp: '20250316184512+0100',
    });
    expect(msg.header.sendingApplication).toEqual({
      namespaceId: 'LOGICIEL-CABINET',
      universalId: undefined,
      universalIdType: undefined,
    });
    expect(msg.header.sendingFacility).toEqual({
      namespaceId: 'CABINET-TEST',
      universalId: '1.2.250.1.999.1',
      universalIdType: 'ISO',
    });
    expect(msg.charset).toBe('UNICODE UTF-8');

    expect(msg.get('SCH-2.1')).toBe('RDV000123');
    expect(msg.get('SCH-11.4')).toBe('20250317093000+0100');
    expect(msg.get('SCH-25.1')).toBe('Booked');
    expect(msg.get('TQ1-6.2.1')).toBe('min');
    expect(msg.get('TQ1-6.2.3')).toBe('UCUM');
    expect(msg.get('NTE-3')).toBe('Rendez-vous pris par le secrétariat à distance');
    expect(msg.get('NTE[3]-3')).toBe('Prévoir le carnet de santé');

    expect(msg.get('PID-5[1].1')).toBe('FICTIVE');
    expect(msg.get('PID-5.3')).toBe('Jeanne Odile');
    expect(msg.get('PID-5[1].7')).toBe('L');
    expect(msg.get('PID-5[2].1')).toBe('IMAGINAIRE');
    expect(msg.get('PID-5[2].7')).toBe('D');
    expect(msg.get('PID-3[2].1')).toBe('285037511234544');
    expect(msg.get('PID-3[2].4.2')).toBe(INS_TEST_OID);
    expect(msg.get('PID-3[2].5')).toBe('INS');
    expect(msg.get('PID-32')).toBe('VALI');
    expect(msg.getAll('PID-3[*].1')).toEqual(['IPP000101', '285037511234544']);
    expect(msg.getAll('PID-3[*].4.2')).toEqual(['1.2.250.1.999.1.1', INS_TEST_OID]);
    expect(msg.getAll('PID-5.7')).toEqual(['L', 'D']);
    expect(msg.getAll('PID-13[*].4')).toEqual(['', 'jeanne.fictive@example.org']);
    expect(msg.getAll('PID-13[*].12')).toEqual(['+33612345678', '']);
    expect(msg.getAll('PID-3[2].1')).toEqual(['285037511234544']);

    expect(msg.get('AIP-3.1')).toBe('819999900012');
    expect(msg.get('AIP-3.9.2')).toBe(IDNPS_OID);
    expect(msg.get('AIP-3.13')).toBe('IDNPS');
    expect(msg.get('AIP[2]-3.2')).toBe('PRATICIEN-ESSAI');
    expect(msg.get('AIS-3.2')).toBe('Consultation de suivi');
    expect(msg.get('AIG-3.2')).toBe('Électrocardiographe portable');
    expect(msg.get('AIL-3.2')).toBe('SALLE-2');
  });

  it('lists segments in message order with their occurrences and positions', () => {
    const msg = parseHl7(readHl7Fixture('siu-s12-new-appointment.hl7'));
    expect(msg.segments().map((s) => s.name)).toEqual([
      'MSH',
      'SCH',
      'TQ1',
      'NTE',
      'NTE',
      'PID',
      'PD1',
      'PV1',
      'RGS',
      'AIS',
      'NTE',
      'AIG',
      'AIL',
      'AIP',
      'NTE',
      'AIP',
    ]);
    expect(msg.segments('NTE')).toEqual([
      { name: 'NTE', occurrence: 1, position: 4 },
      { name: 'NTE', occurrence: 2, position: 5 },
      { name: 'NTE', occurrence: 3, position: 11 },
      { name: 'NTE', occurrence: 4, position: 15 },
    ]);
    expect(msg.segments('OBX')).toEqual([]);
  });

  it('decodes ISO-8859-1 bytes declared by MSH-18 8859/1', () => {
    const bytes = readHl7Fixture('siu-s15-cancel-latin1.hl7');
    expect(bytes.includes(Buffer.from([0xe9]))).toBe(true); // é as one Latin-1 byte
    expect(bytes.includes(Buffer.from('é', 'utf8'))).toBe(false);
    const msg = parseHl7(bytes);
    expect(msg.charset).toBe('8859/1');
    expect(msg.get('NTE-3')).toBe(
      "Reçu appel : préfère reporter après les congés d'été, rappeler en fin de matinée",
    );
    expect(msg.get('SCH-6.2')).toBe('Annulé à la demande du patient');
    expect(msg.get('AIS-3.2')).toBe('Échographie abdominale');
    expect(msg.get('AIL-3.2')).toBe("Salle d'échographie");
  });

  it('refuses Latin-1 bytes read as UTF-8 instead of replacing them', () => {
    const bytes = readHl7Fixture('siu-s15-cancel-latin1.hl7');
    const e = hl7Error(() => parseHl7(bytes, { charsetOverride: 'UNICODE UTF-8' }));
    expect(e.code).toBe('ERR_HL7_CHARSET');
    expect(e.details).toMatchObject({ charset: 'UNICODE UTF-8', offset: expect.any(Number) });
    expect(bytes[e.details['offset'] as number]).toBeGreaterThan(0x7f);
  });

  it('names the exact offset of the first bad UTF-8 byte, counted in the bytes received', () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('MSH|^~\\&|A\rNTE|1||été ', 'utf8'),
      Buffer.from([0xe9, 0x0d]),
    ]);
    const e = hl7Error(() => parseHl7(bytes));
    expect(e.details['offset']).toBe(bytes.length - 2);
  });

  it('uses the link default charset when MSH-18 is empty, and says so when it is wrong', () => {
    const latin1 = Buffer.from('MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5\rNTE|1||Reçu\r', 'latin1');
    expect(parseHl7(latin1, { defaultCharset: '8859/1' }).get('NTE-3')).toBe('Reçu');
    const e = hl7Error(() => parseHl7(latin1));
    expect(e.code).toBe('ERR_HL7_CHARSET');
    expect(e.message).toMatch(
      /not valid UTF-8 \(first bad byte at offset \d+\); set the link's default character set/,
    );
  });

  it('decodes Windows-1252 with its own table (€ œ are 0x80 and 0x9C)', () => {
    const bytes = Buffer.concat([
      Buffer.from('MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5\rNTE|1||', 'latin1'),
      Buffer.from([0x80, 0x20, 0x9c, 0x75, 0x76, 0x72, 0x65]),
      Buffer.from('\r'),
    ]);
    expect(parseHl7(bytes, { defaultCharset: 'windows-1252' }).get('NTE-3')).toBe('€ œuvre');
    expect(parseHl7(bytes, { defaultCharset: '8859/1' }).get('NTE-3')).toBe('\u0080 \u009cuvre');
  });

  it('follows MSH-18 8859/15 and rejects charsets it cannot read', () => {
    const bytes = Buffer.concat([
      Buffer.from('MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5||||||8859/15\rNTE|1||', 'latin1'),
      Buffer.from([0xa4, 0xbd]),
      Buffer.from('\r'),
    ]);
    expect(parseHl7(bytes).get('NTE-3')).toBe('€œ');
    const e = hl7Error(() =>
      parseHl7(Buffer.from('MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5||||||ISO IR87\r')),
    );
    expect(e.code).toBe('ERR_HL7_CHARSET');
    expect(e.message).toMatch(/^MSH-18: character set 'ISO IR87' is not supported/);
    expect(hl7Error(() => parseHl7(Buffer.from('MSH|^~\\&|A\r'), { defaultCharset: 'EBCDIC' })).code).toBe(
      'ERR_HL7_CHARSET',
    );
  });

  it('rejects non-ASCII bytes in a message that declares ASCII', () => {
    const bytes = Buffer.from(
      'MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5||||||ASCII\rNTE|1||Reçu\r',
      'latin1',
    );
    expect(hl7Error(() => parseHl7(bytes)).code).toBe('ERR_HL7_CHARSET');
    expect(parseHl7(bytes, { charsetOverride: '8859/1' }).get('NTE-3')).toBe('Reçu');
  });

  it('resolves every escape of the S14 note, in its own field only', () => {
    const msg = parseHl7(readHl7Fixture('siu-s14-modify-escapes.hl7'));
    expect(msg.get('NTE-3')).toBe(
      'Apporter ordonnance & carte Vitale.\nInterphone 12|B ^ porte 4589~\nImportant : dossier C:\\cabinet\\scan\r\nCafé offert, code \\Zloc\\ inchangé',
    );
    expect(msg.getEncoded('NTE-3')).toContain('\\T\\');
    expect(msg.get('AIS-3.2')).toBe('Consultation longue & bilan');
    // The escaped delimiters did not split anything.
    expect(msg.get('NTE-4')).toBeUndefined();
    expect(msg.get('AIS-3.3')).toBe('L');
  });

  it('reads a v2.3 message: two-component MSH-9, no PID-32', () => {
    const msg = parseHl7(readHl7Fixture('siu-s17-delete-v23.hl7'));
    expect(msg.header).toMatchObject({
      version: '2.3',
      messageType: 'SIU^S17',
      messageStructure: undefined,
      charset: undefined,
    });
    expect(msg.get('PID-32')).toBeUndefined();
    expect(msg.get('SCH-25.1')).toBe('Deleted');
  });

  it('keeps Z-segments in order and their sub-components as sub-components', () => {
    const msg = parseHl7(readHl7Fixture('siu-s26-noshow-zsegment.hl7'));
    expect(msg.segments().at(-1)).toEqual({ name: 'ZRV', occurrence: 1, position: 6 });
    expect(msg.get('ZRV-3')).toBe('SMS');
    expect(msg.get('ZRV-3.1.2')).toBe('MAIL');
    expect(msg.get('ZRV-3.1.3')).toBe('APPEL');
    expect(msg.get('ZRV-3[2]')).toBeUndefined();
    expect(msg.getAll('ZRV-3[*]')).toEqual(['SMS']);
    expect(msg.getAll('ZRV-3[*].1.2')).toEqual(['MAIL']);
    expect(msg.getEncoded('ZRV-3')).toBe('SMS&MAIL&APPEL');
    expect(msg.get('ZRV-5.2')).toBe('12.4.1');
  });

  it('accepts CRLF and LF segment separators', () => {
    const crlf = parseHl7(readHl7Fixture('adt-a04-registration-crlf.hl7'));
    expect(crlf.segments().map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PD1', 'PV1']);
    expect(crlf.get('PID-32')).toBe('VALI');
    expect(crlf.get('PV1-44')).toBe('20250317091500+0100');
    expect(crlf.header.version).toBe('2.5');
    expect(crlf.getEncoded('MSH-12')).toBe('2.5^FRA^2.11');
    const lf = parseHl7(readHl7Fixture('adt-a08-update-lf.hl7'));
    expect(lf.segments().map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1']);
    expect(lf.get('PID-13[2].12')).toBe('+33698765432');
    expect(lf.get('PV1-2')).toBe('N');
  });

  it('honours custom delimiters from MSH-1 and MSH-2', () => {
    const msg = parseHl7(readHl7Fixture('adt-a31-update-custom-delimiters.hl7'));
    expect(msg.delimiters).toEqual({
      field: '!',
      component: '@',
      repetition: '%',
      escape: '$',
      subcomponent: '#',
    });
    expect(msg.get('MSH-1')).toBe('!');
    expect(msg.get('MSH-2')).toBe('@%$#');
    expect(msg.header.messageType).toBe('ADT^A31');
    expect(msg.get('PID-3[2].4.2')).toBe(INS_TEST_OID);
    expect(msg.get('PID-5[2].1')).toBe('IMAGINAIRE');
    expect(msg.get('PID-13[2].4')).toBe('jeanne.fictive@example.org');
    expect(msg.get('PID-11.2')).toBe('Esc. A # 2');
    expect(msg.get('PD1-4.9.2')).toBe(IDNPS_OID);
  });

  it('reads MRG of a merge and of an identifier change', () => {
    expect(parseHl7(readHl7Fixture('adt-a40-merge.hl7')).get('MRG-1.1')).toBe('IPP000199');
    const a47 = parseHl7(readHl7Fixture('adt-a47-identifier-change.hl7'));
    expect(a47.get('MRG-1.1')).toBe('IPP000110');
    expect(a47.get('PID-3.1')).toBe('IPP000101');
    expect(a47.header.messageStructure).toBe('ADT_A30');
  });

  it('keeps provisional identities and PAM France Z-segments', () => {
    const msg = parseHl7(readHl7Fixture('adt-a28-create.hl7'));
    expect(msg.get('PID-32')).toBe('PROV');
    expect(msg.getAll('PID-3[*].5')).toEqual(['PI']);
    expect(msg.get('ZFD-3')).toBe('N');
  });
});

describe('Hl7Message readers', () => {
  const msg = parseHl7(
    'MSH|^~\\&|APP|FAC|||20250101||ADT^A08^ADT_A01|C1|P|2.5\rPID|1||A~~C||""|^^x||\rOBX|1|ST|||one\rOBX|2|ST|||two\\E\\\r',
  );

  it('returns undefined for whatever is absent or empty', () => {
    expect(msg.get('PV1-2')).toBeUndefined();
    expect(msg.get('PID-99')).toBeUndefined();
    expect(msg.get('PID-2')).toBeUndefined();
    expect(msg.get('PID-3[2]')).toBeUndefined();
    expect(msg.get('PID-3[4]')).toBeUndefined();
    expect(msg.get('PID-3.2')).toBeUndefined();
    expect(msg.get('PID-3.1.2')).toBeUndefined();
    expect(msg.get('PID-7')).toBeUndefined();
    expect(msg.get('PID-6.3')).toBe('x');
    expect(msg.get('PID-6')).toBeUndefined();
    expect(msg.get('OBX[3]-5')).toBeUndefined();
    expect(msg.getEncoded('PID-2')).toBeUndefined();
  });

  it('gives the HL7 null "" as itself, distinct from absent', () => {
    expect(msg.get('PID-5')).toBe(HL7_NULL);
  });

  it('aligns repetitions in getAll, with empty strings for empty repetitions', () => {
    expect(msg.getAll('PID-3')).toEqual(['A', '', 'C']);
    expect(msg.getAll('PID-3[*]')).toEqual(['A', '', 'C']);
    expect(msg.getAll('PID-99[*]')).toEqual([]);
    expect(msg.getAll('PID-3[3]')).toEqual(['C']);
    expect(msg.getAll('PID-3[2]')).toEqual([]);
  });

  it('addresses segment occurrences and resolves escapes only in the value read', () => {
    expect(msg.get('OBX-5')).toBe('one');
    expect(msg.get('OBX[2]-5')).toBe('two\\');
    expect(msg.getEncoded('OBX[2]-5')).toBe('two\\E\\');
  });

  it('reads MSH-1 and MSH-2 as written, never split or unescaped', () => {
    expect(msg.get('MSH-1')).toBe('|');
    expect(msg.get('MSH-2')).toBe('^~\\&');
    expect(msg.getAll('MSH-2')).toEqual(['^~\\&']);
    expect(msg.get('MSH-2.2')).toBeUndefined();
    expect(msg.get('MSH-3')).toBe('APP');
  });

  it('takes compiled path objects as well as strings', () => {
    const p = parseHl7Path('OBX[2]-5');
    expect(msg.get(p)).toBe(msg.get('OBX[2]-5'));
  });

  it('refuses [*] in get and getEncoded', () => {
    expect(hl7Error(() => msg.get('PID-3[*]')).code).toBe('ERR_HL7_PATH_INVALID');
    expect(hl7Error(() => msg.getEncoded('PID-3[*]')).message).toBe(
      'PID-3[*]: [*] designates every repetition; read it with getAll',
    );
  });

  it('keeps the content out of logs', () => {
    const jeanne = parseHl7(readHl7Fixture('siu-s12-new-appointment.hl7'));
    const shown = JSON.stringify(jeanne) + inspect(jeanne) + inspect({ nested: jeanne });
    expect(shown).not.toContain('FICTIVE');
    expect(shown).not.toContain('285037511234544');
    expect(JSON.parse(JSON.stringify(jeanne))).toEqual({
      messageType: 'SIU^S12',
      controlId: 'MSG-20250316-000101',
      version: '2.5.1',
      segments: 16,
      bytes: 2251,
    });
  });

  it('takes a string for tools and tests, keeping its UTF-8 encoding as raw', () => {
    const m = parseHl7('MSH|^~\\&|A\rNTE|1||é\r');
    expect(m.raw.equals(Buffer.from('MSH|^~\\&|A\rNTE|1||é\r', 'utf8'))).toBe(true);
    expect(m.get('NTE-3')).toBe('é');
  });

  it('skips a UTF-8 byte order mark and leading blank lines', () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('\r\n\r\nMSH|^~\\&|A|B\r\nPID|1\r\n'),
    ]);
    const m = parseHl7(bytes);
    expect(m.get('MSH-4')).toBe('B');
    expect(m.raw.equals(bytes)).toBe(true);
  });
});

describe('parseHl7 structural errors', () => {
  it.each([
    ['an empty message', '', 'empty message: no segment found'],
    ['only line breaks', '\r\n\r', 'empty message: no segment found'],
    ['a message without MSH', 'PID|1||X\r', 'a message must start with an MSH segment'],
    [
      'a batch',
      'FHS|^~\\&|A\rBHS|^~\\&\rMSH|^~\\&\r',
      'batch files (FHS/BHS) hold several messages: split them before parsing',
    ],
    ['MSH without a field separator', 'MSH', 'MSH-1 (field separator) is missing'],
    [
      'three encoding characters',
      'MSH|^~\\|A\r',
      'MSH-2 must hold 4 encoding characters (component, repetition, escape, sub-component), found 3',
    ],
    ['repeated delimiters', 'MSH|^^\\&|A\r', 'MSH-1/MSH-2: the five delimiters must all differ'],
    ['a letter as delimiter', 'MSH|^~\\A|A\r', 'MSH-1/MSH-2: delimiters must not be letters or digits'],
    [
      'a second MSH',
      'MSH|^~\\&|A\rMSH|^~\\&|B\r',
      'segment 2: a second MSH segment; one message was expected (split batches and concatenated files first)',
    ],
  ])('rejects %s with ERR_HL7_PARSE', (_label, text, message) => {
    const e = hl7Error(() => parseHl7(Buffer.from(text, 'latin1')));
    expect(e.code).toBe('ERR_HL7_PARSE');
    expect(e.message).toBe(message);
  });

  it('names the position of a bad segment, never its content', () => {
    const e = hl7Error(() => parseHl7('MSH|^~\\&|A\rPID|1||X\rFICTIVE Jeanne 1985\r'));
    expect(e.code).toBe('ERR_HL7_PARSE');
    expect(e.message).toBe(
      'segment 3: expected a segment name (3 upper-case letters or digits) followed by the field separator',
    );
    expect(e.details).toEqual({ segmentIndex: 3 });
    expect(JSON.stringify(e.toJSON())).not.toContain('FICTIVE');
  });

  it('rejects input that is neither bytes nor text', () => {
    expect(hl7Error(() => parseHl7(42 as unknown as string)).code).toBe('ERR_HL7_PARSE');
  });
});
