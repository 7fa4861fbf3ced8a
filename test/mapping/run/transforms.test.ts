/**
 * Value transforms: French phone numbers to E.164 (ARCEP numbering plan, overseas country
 * codes), HL7 date/times to UTC instants in the practice's zone (HL7 v2.5 §2.A.22: no offset
 * means the sender's local time) across DST changes and in overseas zones.
 */
import { describe, expect, it } from '@jest/globals';

import {
  compileTransform,
  e164ToFrenchNational,
  frenchPhoneToE164,
  hl7TimestampToMillis,
  millisToHl7Timestamp,
  phoneToE164,
  SUBCOMPONENTS,
  type Transform,
  TransformError,
} from '../../../src/mapping/run/transforms.js';

const iso = (raw: string, zone: string) => new Date(hl7TimestampToMillis(raw, zone)).toISOString();
const t = (spec: string): Transform => {
  const x = compileTransform(spec);
  if (typeof x === 'string') throw new Error(x);
  return x;
};
const ctx = { timezone: 'Europe/Paris' };

describe('French phone numbers to E.164', () => {
  it.each([
    ['06 12 34 56 78', '+33612345678'],
    ['06.12.34.56.78', '+33612345678'],
    ['0612345678', '+33612345678'],
    ['+33 6 12 34 56 78', '+33612345678'],
    ['+33 (0)6 12 34 56 78', '+33612345678'],
    ['0033612345678', '+33612345678'],
    ['01-45-67-89-01', '+33145678901'],
    ['+33612345678', '+33612345678'],
  ])('normalizes %s on the metropolitan plan', (raw, e164) => {
    expect(frenchPhoneToE164(raw)).toBe(e164);
  });

  it.each([
    ['0590 12 34 56', '+590590123456', 'Guadeloupe landline'],
    ['0690 12 34 56', '+590690123456', 'Guadeloupe mobile'],
    ['0594 12 34 56', '+594594123456', 'Guyane landline'],
    ['0694 12 34 56', '+594694123456', 'Guyane mobile'],
    ['0596 12 34 56', '+596596123456', 'Martinique landline'],
    ['0696 12 34 56', '+596696123456', 'Martinique mobile'],
    ['0262 12 34 56', '+262262123456', 'La Réunion landline'],
    ['0692 12 34 56', '+262692123456', 'La Réunion mobile'],
    ['0269 12 34 56', '+262269123456', 'Mayotte landline'],
    ['0639 12 34 56', '+262639123456', 'Mayotte mobile'],
    ['+33 596 12 34 56', '+596596123456', 'an overseas number dialled with +33'],
  ])('gives %s its own country code (%s → %s)', (raw, e164) => {
    expect(frenchPhoneToE164(raw)).toBe(e164);
  });

  it('keeps a foreign number already in E.164', () => {
    expect(frenchPhoneToE164('+49 151 12345678')).toBe('+4915112345678');
  });

  it.each(['12345', '06 12 34', '+33 0612345678', 'n° inconnu', ''])(
    'refuses %p without quoting it',
    (raw) => {
      expect(() => frenchPhoneToE164(raw)).toThrow(TransformError);
      try {
        frenchPhoneToE164(raw);
      } catch (e) {
        if (raw.length > 2) expect((e as Error).message).not.toContain(raw);
      }
    },
  );

  it('writes national numbers back with :national, overseas ones included', () => {
    expect(e164ToFrenchNational('(03) 5555 6473')).toBe('(03) 5555 6473');
    expect(e164ToFrenchNational('+33612345678')).toBe('0612345678');
    expect(e164ToFrenchNational('+596696123456')).toBe('0696123456');
    expect(e164ToFrenchNational('+262262123456')).toBe('0262123456');
    expect(e164ToFrenchNational('+4915112345678')).toBe('+4915112345678');
    expect(t('phone-e164:national').out('+33145678901', ctx)).toBe('0145678901');
    expect(t('phone-e164').out('01 45 67 89 01', ctx)).toBe('+33145678901');
  });
});

describe("HL7 date/times and the practice's zone", () => {
  it('honours an explicit offset whatever the zone', () => {
    expect(iso('20250317093000+0100', 'America/Martinique')).toBe('2025-03-17T08:30:00.000Z');
    expect(iso('20250317093000-0400', 'Europe/Paris')).toBe('2025-03-17T13:30:00.000Z');
    expect(iso('20250317093000.25+0000', 'Europe/Paris')).toBe('2025-03-17T09:30:00.250Z');
  });

  it("reads a time without offset in the practice's zone, winter and summer", () => {
    expect(iso('20250317093000', 'Europe/Paris')).toBe('2025-03-17T08:30:00.000Z');
    expect(iso('20250717093000', 'Europe/Paris')).toBe('2025-07-17T07:30:00.000Z');
    expect(iso('202507170930', 'Europe/Paris')).toBe('2025-07-17T07:30:00.000Z');
    expect(iso('2025071709', 'Europe/Paris')).toBe('2025-07-17T07:00:00.000Z');
    expect(iso('20250717', 'Europe/Paris')).toBe('2025-07-16T22:00:00.000Z');
  });

  it('moves a time in the spring-forward gap forward by the gap (02:30 does not exist on 30 March 2025 in Paris)', () => {
    expect(iso('20250330023000', 'Europe/Paris')).toBe('2025-03-30T01:30:00.000Z');
    expect(iso('20250330013000', 'Europe/Paris')).toBe('2025-03-30T00:30:00.000Z');
    expect(iso('20250330033000', 'Europe/Paris')).toBe('2025-03-30T01:30:00.000Z');
  });

  it('takes the later (standard-time) occurrence of a repeated autumn time (02:30 on 26 October 2025 in Paris)', () => {
    expect(iso('20251026023000', 'Europe/Paris')).toBe('2025-10-26T01:30:00.000Z');
    expect(iso('20251026023000+0200', 'Europe/Paris')).toBe('2025-10-26T00:30:00.000Z');
    expect(iso('20251026033000', 'Europe/Paris')).toBe('2025-10-26T02:30:00.000Z');
  });

  it.each([
    ['America/Martinique', '2025-03-17T13:30:00.000Z', '-0400'],
    ['America/Guadeloupe', '2025-03-17T13:30:00.000Z', '-0400'],
    ['America/Cayenne', '2025-03-17T12:30:00.000Z', '-0300'],
    ['Indian/Reunion', '2025-03-17T05:30:00.000Z', '+0400'],
    ['Indian/Mayotte', '2025-03-17T06:30:00.000Z', '+0300'],
    ['Pacific/Noumea', '2025-03-16T22:30:00.000Z', '+1100'],
    ['Pacific/Tahiti', '2025-03-17T19:30:00.000Z', '-1000'],
  ])('places 09:30 local in %s (no DST) and writes it back with its offset', (zone, utc, offset) => {
    expect(iso('20250317093000', zone)).toBe(utc);
    expect(millisToHl7Timestamp(Date.parse(utc), zone)).toBe(`20250317093000${offset}`);
  });

  it("writes outbound times in the practice's zone with its offset on each side of a DST change", () => {
    expect(millisToHl7Timestamp(Date.parse('2025-03-30T00:59:00Z'), 'Europe/Paris')).toBe(
      '20250330015900+0100',
    );
    expect(millisToHl7Timestamp(Date.parse('2025-03-30T01:00:00Z'), 'Europe/Paris')).toBe(
      '20250330030000+0200',
    );
    expect(t('hl7-datetime').out('2025-10-26T01:30:00.000Z', ctx)).toBe('20251026023000+0100');
  });

  it.each([
    '20250230093000',
    '20251301',
    '202503170',
    '20250317093000+1500',
    '20250317093000+01',
    'demain',
    '2025-03-17',
  ])('refuses %p', (raw) => {
    expect(() => hl7TimestampToMillis(raw, 'Europe/Paris')).toThrow(TransformError);
  });

  it('accepts the 29th of February of a leap year only', () => {
    expect(iso('20240229', 'UTC')).toBe('2024-02-29T00:00:00.000Z');
    expect(() => hl7TimestampToMillis('20250229', 'UTC')).toThrow(TransformError);
  });

  it('maps HL7 dates to FHIR dates of the same precision and back', () => {
    const d = t('hl7-date');
    expect(d.in('19850314', ctx)).toBe('1985-03-14');
    expect(d.in('198503', ctx)).toBe('1985-03');
    expect(d.in('1985', ctx)).toBe('1985');
    expect(d.in('198503141200', ctx)).toBe('1985-03-14');
    expect(d.out('1985-03-14', ctx)).toBe('19850314');
    expect(() => d.out('14/03/1985', ctx)).toThrow(TransformError);
  });

  it('normalizes FHIR instants to UTC', () => {
    expect(t('fhir-instant').in('2014-12-12T18:01:10-08:00', ctx)).toBe('2014-12-13T02:01:10.000Z');
    expect(() => t('fhir-instant').in('2014-12-12', ctx)).toThrow(TransformError);
  });
});

describe('other transforms', () => {
  it('upper-cases birth names the French way and trims', () => {
    expect(t('upper').in('de la Fontaine-Étienne', ctx)).toBe('DE LA FONTAINE-ÉTIENNE');
    expect(t('trim').in('  Jeanne ', ctx)).toBe('Jeanne');
  });

  it('turns ids into references and back, refusing another type', () => {
    const r = t('reference:Practitioner');
    expect(r.in('819999900012', ctx)).toBe('Practitioner/819999900012');
    expect(r.out('Practitioner/819999900012', ctx)).toBe('819999900012');
    expect(() => r.out('Patient/IPP000101', ctx)).toThrow('not a reference to a Practitioner');
    expect(() => r.in('id with spaces', ctx)).toThrow(TransformError);
  });

  it('adds and strips a prefix (RPPS → "8" + RPPS)', () => {
    const p = t('prefix:8');
    expect(p.in('19999900012', ctx)).toBe('819999900012');
    expect(p.out('819999900012', ctx)).toBe('19999900012');
    expect(() => p.out('019999900012', ctx)).toThrow(TransformError);
  });

  it('reads integers strictly', () => {
    expect(t('integer').in('20', ctx)).toBe(20);
    expect(t('integer').out(20, ctx)).toBe('20');
    expect(() => t('integer').in('20 min', ctx)).toThrow(TransformError);
  });

  it('names unknown transforms and bad arguments with a suggestion', () => {
    expect(compileTransform('uper')).toBe(
      'unknown transform uper (did you mean upper?); known: trim, upper, lower, hl7-datetime, hl7-date, fhir-instant, integer, hl7-duration, street-line, xtn-number, email, phone-e164, prefix, reference',
    );
    expect(compileTransform('reference:patient')).toBe(
      'transform reference needs a resource type, e.g. reference:Patient',
    );
    expect(compileTransform('phone-e164:intl')).toBe(
      'transform phone-e164 takes no argument or :national (got :intl)',
    );
    expect(compileTransform('trim:x')).toBe('transform trim takes no argument');
  });
});

describe('phone numbers of any country (phone-e164)', () => {
  it.each([
    ['06 12 34 56 78', undefined, '+33612345678', 'French by form, no country'],
    ['0590 12 34 56', 'FR', '+590590123456', 'French overseas by form'],
    ['0355556473', undefined, '+33355556473', 'ten digits, no separators: French by form'],
    ['+61 3 5555 6473', undefined, '+61355556473', 'a country code: E.164 of that country'],
    ['0044 7700 900123', 'FRA', '+447700900123', '00 + a country code'],
    ['(03) 5555 6473', undefined, '(03) 5555 6473', 'Australian grouping: not French by form, kept as given'],
    ['07700 900123', undefined, '07700 900123', 'British national (11 digits): kept as given'],
    ['(03) 5555 6473', 'AU', '+61355556473', 'a national number of a record from Australia'],
    ['07700 900123', 'GBR', '+447700900123', 'a national number of a record from the UK'],
    ['(416)111-1111', 'CA', '+14161111111', 'North American plan'],
    ['1 416 111 1111', 'USA', '+14161111111', 'North American plan with its 1'],
    [
      '06 12 34 56 78',
      'AUS',
      '+61612345678',
      'a French-looking number of a record from Australia is Australian',
    ],
    ['0612345678', 'BR', '0612345678', 'a country whose plan passerelle does not know: kept as given'],
    ['555-0100', undefined, '555-0100', 'a local number: kept as given'],
    ['+33 0612345678', undefined, '+33 0612345678', 'a malformed +33: kept as given, not guessed'],
  ] as [string, string | undefined, string, string][])(
    '%s (country %s) → %s (%s)',
    (raw, country, expected) => {
      expect(phoneToE164(raw, country)).toBe(expected);
    },
  );

  it('reads the record country from the transform context', () => {
    expect(t('phone-e164').in('(03) 5555 6473', { ...ctx, country: 'AU' })).toBe('+61355556473');
    expect(t('phone-e164').in('(03) 5555 6473', ctx)).toBe('(03) 5555 6473');
  });

  it.each(['n° inconnu', 'NON', '12', '', 'ask reception'])(
    'fails %p, which is not a phone number, without quoting it',
    (raw) => {
      expect(() => phoneToE164(raw)).toThrow(TransformError);
      try {
        phoneToE164(raw);
      } catch (e) {
        if (raw.length > 2) expect((e as Error).message).not.toContain(raw);
      }
    },
  );
});

describe('street-line (XAD-1, SAD sub-components joined by SUBCOMPONENTS)', () => {
  const t = compileTransform('street-line') as Transform;
  const join = (...parts: string[]) => parts.join(SUBCOMPONENTS);
  it('builds one line from street, street name and dwelling number, without repeating what the street holds', () => {
    expect([
      t.in(join('1000', 'Hospital Lane'), ctx),
      t.in(join('', 'rue de la Paix', '12'), ctx),
      t.in(join('12 rue de la Paix', 'rue de la Paix', '12'), ctx),
      t.in('112 rue Haute', ctx),
      t.in(join('112 rue Haute', '', '12'), ctx),
    ]).toEqual([
      '1000 Hospital Lane',
      '12 rue de la Paix',
      '12 rue de la Paix',
      '112 rue Haute',
      '112 rue Haute 12',
    ]);
    expect(t.out('  12 rue de la Paix ', ctx)).toBe('12 rue de la Paix');
  });
});

describe('xtn-number (XTN-1, else XTN-5/6/7 joined by SUBCOMPONENTS)', () => {
  const t = compileTransform('xtn-number') as Transform;
  it('keeps XTN-1 as written and puts the parts together when only they are given', () => {
    expect([
      t.in(' 01 42 42 42 42 ', ctx),
      t.in(['33', '1', '42424242'].join(SUBCOMPONENTS), ctx),
      t.in(['', '626', '5641111'].join(SUBCOMPONENTS), ctx),
      t.in(['+1', '626', '5641111'].join(SUBCOMPONENTS), ctx),
    ]).toEqual(['01 42 42 42 42', '+33142424242', '6265641111', '+16265641111']);
    expect(() => t.in(['33', '', ''].join(SUBCOMPONENTS), ctx)).toThrow(TransformError);
  });
});
