/**
 * Value transforms a field rule may name (`transform: hl7-datetime`, `transform: [trim, upper]`).
 * Each works both ways: `in` (protocol → canonical) and `out` (canonical → protocol). They throw
 * TransformError with a message that never contains the value (values are patient data).
 *
 * Time: canonical instants are UTC (`…Z`, src/model/resources.ts); an HL7 date/time without an
 * offset is wall-clock time in the practice's zone (HL7 v2.5 §2.A.22 TS/DTM: "if the time zone is
 * not included, the time zone defaults to that of the local time zone of the sender").
 */
import { DateTime } from 'luxon';

import { didYouMean } from '../../util/suggest.js';

export class TransformError extends Error {}

export interface TransformContext {
  /** IANA zone of the practice. */
  readonly timezone: string;
  /**
   * The country of the record as the input gives it (its first address's country: ISO 3166
   * alpha-2 or alpha-3, or a name), when it gives one: phone numbers in national form are read
   * in that country's numbering plan, not as French ones.
   */
  readonly country?: string;
}

export type TransformValue = string | number | boolean;

export interface Transform {
  readonly spec: string;
  readonly name: string;
  /** What the canonical side holds after `in`. */
  readonly produces: 'string' | 'number' | 'instant' | 'date';
  /** Only meaningful for one protocol (HL7 date formats), or both. */
  readonly protocol: 'hl7v2' | 'fhir-r4' | 'any';
  in(value: TransformValue, ctx: TransformContext): TransformValue;
  out(value: TransformValue, ctx: TransformContext): TransformValue;
  /**
   * HL7 inbound, as a rule's first transform: the rule's component is read with all its
   * sub-components, joined by SUBCOMPONENTS (XAD-1 SAD: street, street name, dwelling number).
   */
  readonly readsSubcomponents?: true;
  /**
   * HL7 inbound, as a rule's first transform: when the component `for` of a `from` path is
   * empty, these components of the same repetition are read instead, joined by SUBCOMPONENTS
   * (XTN-1 empty: XTN-5 country code, XTN-6 area code, XTN-7 local number).
   */
  readonly fallbackComponents?: { readonly for: number; readonly components: readonly number[] };
}

/** Joins the sub-components a `readsSubcomponents` transform is given (never in decoded HL7 text). */
export const SUBCOMPONENTS = '\u001f';

const str = (v: TransformValue): string => (typeof v === 'string' ? v : String(v));

// ---------------------------------------------------------------------------------------------
// HL7 date/time: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]

const d2 = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);
const isDigit = (c: number) => c >= 48 && c <= 57;
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

interface Hl7Parts {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  ms: number;
  /** Offset in minutes east of UTC, or undefined when the value has none. */
  offset: number | undefined;
  /** How many date digits were given: 4, 6, 8, 10, 12, 14. */
  precision: number;
}

const BAD_TS = 'not an HL7 date/time (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ])';

export function parseHl7Timestamp(raw: string): Hl7Parts {
  // One pass over the characters, no regular expression or substring (hot path).
  const len = raw.length;
  let i = 0;
  while (i < len && isDigit(raw.charCodeAt(i))) i++;
  const n = i;
  if (!(n === 4 || n === 6 || n === 8 || n === 10 || n === 12 || n === 14)) throw new TransformError(BAD_TS);
  let ms = 0;
  if (i < len && raw.charCodeAt(i) === 46 /* . */) {
    if (n !== 14) throw new TransformError(BAD_TS);
    const from = ++i;
    let frac = 0;
    let scale = 1;
    while (i < len && isDigit(raw.charCodeAt(i))) {
      frac = frac * 10 + raw.charCodeAt(i) - 48;
      scale *= 10;
      i++;
    }
    if (i === from || i - from > 4) throw new TransformError(BAD_TS);
    ms = Math.round((frac / scale) * 1000);
  }
  let offset: number | undefined;
  if (i < len) {
    const sign = raw.charCodeAt(i);
    if ((sign !== 43 && sign !== 45) || len - i !== 5) throw new TransformError(BAD_TS);
    for (let k = i + 1; k < len; k++) if (!isDigit(raw.charCodeAt(k))) throw new TransformError(BAD_TS);
    const oh = d2(raw, i + 1);
    const om = d2(raw, i + 3);
    if (oh > 14 || om > 59) throw new TransformError(BAD_TS);
    offset = (sign === 45 ? -1 : 1) * (oh * 60 + om);
  }
  const y = d2(raw, 0) * 100 + d2(raw, 2);
  const mo = n >= 6 ? d2(raw, 4) : 1;
  const d = n >= 8 ? d2(raw, 6) : 1;
  const h = n >= 10 ? d2(raw, 8) : 0;
  const mi = n >= 12 ? d2(raw, 10) : 0;
  const s = n >= 14 ? d2(raw, 12) : 0;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (
    mo < 1 ||
    mo > 12 ||
    d < 1 ||
    d > (mo === 2 && !leap ? 28 : (DAYS[mo - 1] as number)) ||
    h > 23 ||
    mi > 59 ||
    s > 59
  )
    throw new TransformError(BAD_TS);
  return { y, mo, d, h, mi, s, ms, offset, precision: n };
}

/**
 * HL7 TS → UTC epoch ms. Without an offset the wall-clock time is read in `zone`; a time that
 * does not exist there (the spring-forward gap) moves forward by the gap, and an ambiguous one
 * (the autumn repeat) takes the later (standard-time) occurrence, as Luxon resolves them; a
 * sender that means the earlier one must send the offset.
 */
export function hl7TimestampToMillis(raw: string, zone: string): number {
  const p = parseHl7Timestamp(raw.trim());
  const wall = Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s, p.ms);
  if (p.offset !== undefined) return wall - p.offset * 60_000;
  return wallClockToMillis(wall, zone);
}

// Zone offsets change at most every quarter of an hour (IANA zones change at :00, :30 or :45),
// so one lookup per zone and quarter hour serves every time in it.
const QUARTER = 900_000;
const offsets = new Map<string, number>();
function offsetAt(ms: number, zone: string): number {
  const key = `${zone}|${Math.floor(ms / QUARTER)}`;
  let o = offsets.get(key);
  if (o === undefined) {
    const dt = DateTime.fromMillis(Math.floor(ms / QUARTER) * QUARTER, { zone });
    if (!dt.isValid) throw new TransformError(`cannot place the date/time in time zone ${zone}`);
    o = dt.offset * 60_000;
    if (offsets.size > 50_000) offsets.clear();
    offsets.set(key, o);
  }
  return o;
}

/**
 * Wall-clock time (as if UTC) in `zone` → UTC ms, resolving gaps and repeats as Luxon does: a
 * time in the spring-forward gap moves forward by the gap; a repeated autumn time takes the
 * later (standard-time) occurrence.
 */
function wallClockToMillis(wall: number, zone: string): number {
  const o1 = offsetAt(wall, zone);
  const t1 = wall - o1;
  const o2 = offsetAt(t1, zone);
  if (o1 === o2) return t1;
  const t2 = wall - o2;
  if (offsetAt(t2, zone) === o2) return t2;
  return wall - Math.min(o1, o2);
}

/** UTC instant → HL7 TS with seconds and the zone's offset: `20250317093000+0100`. */
export function millisToHl7Timestamp(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toFormat('yyyyLLddHHmmssZZZ');
}

function toMillis(v: TransformValue): number {
  const ms = typeof v === 'number' ? v : Date.parse(str(v));
  if (Number.isNaN(ms)) throw new TransformError('not an instant');
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Durations (HL7 v2.5 §10.6.2.9-10 SCH-9/SCH-10, §4.5.4.3 TQ-3, AIS-7/8, AIG-11/12, AIL-9/10, AIP-9/10)

/** Minutes per unit, by the lower-case codes senders use (ISO+/UCUM, ANSI, and spelled out). */
const MINUTES_PER_UNIT: ReadonlyMap<string, number> = new Map([
  ...['s', 'sec', 'secs', 'second', 'seconds'].map((u) => [u, 1 / 60] as const),
  ...['min', 'mins', 'minute', 'minutes', 'mn', 'm'].map((u) => [u, 1] as const),
  ...['h', 'hr', 'hrs', 'hour', 'hours'].map((u) => [u, 60] as const),
  ...['d', 'day', 'days'].map((u) => [u, 1440] as const),
  ...['wk', 'w', 'week', 'weeks'].map((u) => [u, 10080] as const),
]);

/**
 * A duration in whole minutes: a number with its unit (SCH-9 with SCH-10; minutes when the unit
 * is absent), or a TQ-3 duration (`M20`, `H1`, `S1800`, `D1`, `W2`). Rounded up: a booking is
 * never shortened.
 */
export function durationMinutes(raw: string, unit?: string): number {
  const s = raw.trim();
  const tq = /^([SMHDW])([0-9]{1,7})$/i.exec(s);
  let amount: number;
  let per: number | undefined;
  if (tq) {
    amount = Number(tq[2]);
    per = MINUTES_PER_UNIT.get((tq[1] as string).toLowerCase());
  } else {
    if (!/^[0-9]{1,7}(\.[0-9]{1,3})?$/.test(s))
      throw new TransformError('not a duration (a number, or TQ S/M/H/D/W followed by a number)');
    amount = Number(s);
    per = unit === undefined || unit.trim() === '' ? 1 : MINUTES_PER_UNIT.get(unit.trim().toLowerCase());
    if (per === undefined) throw new TransformError('unknown duration unit (s, min, h, d, wk)');
  }
  const minutes = Math.ceil(amount * (per as number));
  if (minutes <= 0) throw new TransformError('not a positive duration');
  return minutes;
}

// ---------------------------------------------------------------------------------------------
// French phone numbers → E.164 (ITU-T E.164; ARCEP numbering plan)

/**
 * Overseas departments and collectivities keep their own country codes although their numbers
 * are dialled as 10-digit French numbers (ARCEP plan: 0590/0690 Guadeloupe, Saint-Martin,
 * Saint-Barthélemy; 0594/0694 Guyane; 0596/0696/0697 Martinique; 0262/0263/0692/0693 La Réunion;
 * 0269/0639 Mayotte). The national significant number (without the leading 0) is kept whole.
 */
const OVERSEAS: ReadonlyArray<readonly [string, string]> = [
  ['590', '590'],
  ['690', '590'],
  ['691', '590'],
  ['594', '594'],
  ['694', '594'],
  ['596', '596'],
  ['696', '596'],
  ['697', '596'],
  ['262', '262'],
  ['263', '262'],
  ['692', '262'],
  ['693', '262'],
  ['269', '262'],
  ['639', '262'],
];
const FRENCH_CODES = new Set(['33', '590', '594', '596', '262']);

/** A French number (national `0X XX XX XX XX`, `+33…`, `0033…`, `+33 (0)…`) → `+33612345678`. */
export function frenchPhoneToE164(raw: string): string {
  let s = raw
    .trim()
    .replace(/\(0\)/g, '')
    .replace(/[\s.\-/()]/g, '');
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  if (/^0[1-9][0-9]{8}$/.test(s)) {
    const nsn = s.slice(1);
    const overseas = OVERSEAS.find(([prefix]) => nsn.startsWith(prefix));
    return `+${overseas ? overseas[1] : '33'}${nsn}`;
  }
  if (/^\+33[1-9][0-9]{8}$/.test(s)) {
    // +33 then an overseas number: it belongs under its own country code.
    const nsn = s.slice(3);
    const overseas = OVERSEAS.find(([prefix]) => nsn.startsWith(prefix));
    return `+${overseas ? overseas[1] : '33'}${nsn}`;
  }
  if (/^\+(590|594|596|262)[1-9][0-9]{8}$/.test(s)) return s;
  if (/^\+[1-9][0-9]{6,14}$/.test(s) && ![...FRENCH_CODES].some((c) => s.startsWith(`+${c}`))) return s; // a foreign number in E.164 already
  throw new TransformError('not a French phone number (10 digits starting with 0, or +33…)');
}

/** Countries whose numbers follow the French plan (metropolitan France and the overseas departments). */
const FRENCH_COUNTRIES: ReadonlySet<string> = new Set([
  'FR',
  'FRA',
  'FRANCE',
  'GP',
  'GLP',
  'MQ',
  'MTQ',
  'GF',
  'GUF',
  'RE',
  'REU',
  'YT',
  'MYT',
  'BL',
  'BLM',
  'MF',
  'MAF',
]);

/**
 * National numbering plans passerelle can put in E.164 when a record says it is from there: the
 * country calling code (ITU-T E.164 assignments), whether a national number starts with a
 * trunk prefix 0 that E.164 drops, and the North American plan's ten digits. A country not
 * listed keeps its national numbers as given.
 */
interface NumberingPlan {
  readonly cc: string;
  readonly trunk0: boolean;
  readonly nanp?: boolean;
}
const PLANS: ReadonlyArray<readonly [readonly string[], NumberingPlan]> = [
  [['GB', 'GBR', 'UK', 'UNITED KINGDOM'], { cc: '44', trunk0: true }],
  [['AU', 'AUS', 'AUSTRALIA'], { cc: '61', trunk0: true }],
  [['US', 'USA', 'UNITED STATES', 'CA', 'CAN', 'CANADA'], { cc: '1', trunk0: false, nanp: true }],
  [['DE', 'DEU', 'GERMANY'], { cc: '49', trunk0: true }],
  [['BE', 'BEL', 'BELGIUM', 'BELGIQUE'], { cc: '32', trunk0: true }],
  [['CH', 'CHE', 'SWITZERLAND', 'SUISSE'], { cc: '41', trunk0: true }],
  [['NL', 'NLD', 'NETHERLANDS'], { cc: '31', trunk0: true }],
  [['IE', 'IRL', 'IRELAND'], { cc: '353', trunk0: true }],
  [['IT', 'ITA', 'ITALY', 'ITALIE'], { cc: '39', trunk0: false }],
  [['ES', 'ESP', 'SPAIN', 'ESPAGNE'], { cc: '34', trunk0: false }],
  [['PT', 'PRT', 'PORTUGAL'], { cc: '351', trunk0: false }],
  [['LU', 'LUX', 'LUXEMBOURG'], { cc: '352', trunk0: false }],
  [['MA', 'MAR', 'MOROCCO', 'MAROC'], { cc: '212', trunk0: true }],
  [['DZ', 'DZA', 'ALGERIA', 'ALGERIE'], { cc: '213', trunk0: true }],
  [['TN', 'TUN', 'TUNISIA', 'TUNISIE'], { cc: '216', trunk0: false }],
];

/** A French number written the French way: 0X XX XX XX XX (or 0XXX XX XX XX overseas), separators optional. */
const FRENCH_NATIONAL_FORM = /^0[1-9](?:[ .-]?[0-9]{2}){4}$|^0[1-9][0-9]{2}(?:[ .-]?[0-9]{2}){3}$/;
const PHONE_CHARACTERS = /^[+0-9 .\-/()]+$/;

/**
 * A phone number → E.164 where its form or the record's country says which plan it is in;
 * otherwise as given. Only numbers French by form (`0X XX XX XX XX`, `+33…`, `0033…`) are read
 * as French, with no country or a French one; a number with a country code stays in E.164 of
 * that country; a national number of a record from a country in `PLANS` is put under that
 * country's code; anything else that looks like a phone number — an Australian `(03) 5555
 * 6473`, a British `07700 900123`, a number of a country not listed — is kept as given, never
 * misread as French. Only what is not a phone number at all (letters, fewer than 3 digits)
 * fails (the rule then drops it with a flag).
 */
export function phoneToE164(raw: string, country?: string): string {
  const given = raw.trim();
  const digits = given.replace(/[^0-9]/g, '');
  if (!PHONE_CHARACTERS.test(given) || digits.length < 3 || digits.length > 17) {
    throw new TransformError('not a phone number (3 to 15 digits, with + ( ) . - / or spaces)');
  }
  let s = given.replace(/\(0\)/g, '').replace(/[\s.\-/()]/g, '');
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  if (s.startsWith('+')) {
    if ([...FRENCH_CODES].some((c) => s.startsWith(`+${c}`))) {
      try {
        return frenchPhoneToE164(given);
      } catch {
        return given;
      }
    }
    return /^\+[1-9][0-9]{6,14}$/.test(s) ? s : given;
  }
  const key = country?.trim().toUpperCase();
  if (key === undefined || key === '' || FRENCH_COUNTRIES.has(key))
    return FRENCH_NATIONAL_FORM.test(given) ? frenchPhoneToE164(given) : given;
  const plan = PLANS.find(([names]) => names.includes(key))?.[1];
  if (!plan) return given;
  let nsn = s;
  if (plan.nanp && nsn.length === 11 && nsn.startsWith('1')) nsn = nsn.slice(1);
  if (plan.nanp && nsn.length !== 10) return given;
  if (plan.trunk0 && nsn.startsWith('0')) nsn = nsn.slice(1);
  const e164 = `+${plan.cc}${nsn}`;
  return /^\+[1-9][0-9]{7,14}$/.test(e164) ? e164 : given;
}

/** E.164 → national 10-digit form `0612345678` (foreign numbers stay in E.164, others as given). */
export function e164ToFrenchNational(raw: string): string {
  const s = phoneToE164(raw);
  for (const code of ['590', '594', '596', '262', '33']) {
    if (s.startsWith(`+${code}`) && s.length === code.length + 10) return `0${s.slice(code.length + 1)}`;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Street address (HL7 v2.5 §2.A.85 XAD-1, SAD: street or mailing address & street name & dwelling number)

/** Whether `part` is already a whole word (or words) of `line`, any case. */
const hasWords = (line: string, part: string): boolean =>
  ` ${line.toLowerCase()} `.includes(` ${part.toLowerCase()} `);

/**
 * One street line from SAD's parts: SAD.1 alone is the line; SAD.3 (dwelling number) and SAD.2
 * (street name) complete it unless it already holds them ("1000&Hospital Lane" → "1000 Hospital
 * Lane", "&rue de la Paix&12" → "12 rue de la Paix", "12 rue de la Paix&rue de la Paix&12" →
 * itself).
 */
export function streetLine(joined: string): string {
  const [street = '', name = '', number = ''] = joined.split(SUBCOMPONENTS).map((p) => p.trim());
  let line = street;
  for (const part of [number, name])
    if (part !== '' && !hasWords(line, part)) line = line === '' ? part : `${line} ${part}`;
  return line;
}

// ---------------------------------------------------------------------------------------------
// Telephone number (HL7 v2.5 §2.A.89 XTN)

/**
 * The number of an XTN: XTN-1 as written, or when XTN-1 is empty (a sender that fills only the
 * parts) XTN-5 country code, XTN-6 area code and XTN-7 local number put together: `+1 626
 * 5641111` → `+16265641111`, `^^^^^626^5641111` → `6265641111`. Normalizing it is the next
 * transform's (phone-e164).
 */
export function xtnNumber(raw: string): string {
  if (!raw.includes(SUBCOMPONENTS)) return raw.trim();
  const [country = '', area = '', local = ''] = raw.split(SUBCOMPONENTS).map((p) => p.trim());
  const number = `${area}${local}`;
  if (number === '') throw new TransformError('no area code or local number (XTN-6, XTN-7)');
  return country === '' ? number : `+${country.replace(/^\+/, '')}${number}`;
}

const EMAIL = /^[^\s@"(),:;<>[\\\]]+@[^\s@"(),:;<>[\\\]]+\.[A-Za-z]{2,}$/;

/** An e-mail address as RFC 5322's dot-atom form allows in practice; never echoes the value. */
export function checkEmail(s: string): string {
  if (!EMAIL.test(s)) throw new TransformError('not an e-mail address');
  return s;
}

// ---------------------------------------------------------------------------------------------
// Registry

type Factory = (arg: string | undefined) => Transform | string;

const simple =
  (
    name: string,
    produces: Transform['produces'],
    protocol: Transform['protocol'],
    inFn: Transform['in'],
    outFn: Transform['out'],
  ): Factory =>
  (arg) =>
    arg !== undefined
      ? `transform ${name} takes no argument`
      : { spec: name, name, produces, protocol, in: inFn, out: outFn };

const FHIR_TS =
  /^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$/;
const REF_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const FACTORIES: Readonly<Record<string, Factory>> = {
  trim: simple(
    'trim',
    'string',
    'any',
    (v) => str(v).trim(),
    (v) => str(v).trim(),
  ),
  // Unicode default case mapping: French needs no locale rule (é → É, ç → Ç, œ → Œ).
  upper: simple(
    'upper',
    'string',
    'any',
    (v) => str(v).toUpperCase(),
    (v) => str(v).toUpperCase(),
  ),
  lower: simple(
    'lower',
    'string',
    'any',
    (v) => str(v).toLowerCase(),
    (v) => str(v).toLowerCase(),
  ),
  'hl7-datetime': simple(
    'hl7-datetime',
    'instant',
    'hl7v2',
    (v, ctx) => new Date(hl7TimestampToMillis(str(v), ctx.timezone)).toISOString(),
    (v, ctx) => millisToHl7Timestamp(toMillis(v), ctx.timezone),
  ),
  'hl7-date': simple(
    'hl7-date',
    'date',
    'hl7v2',
    (v) => {
      const p = parseHl7Timestamp(str(v).trim());
      const y = String(p.y).padStart(4, '0');
      if (p.precision === 4) return y;
      if (p.precision === 6) return `${y}-${String(p.mo).padStart(2, '0')}`;
      return `${y}-${String(p.mo).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
    },
    (v) => {
      const s = str(v);
      if (!/^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$/.test(s))
        throw new TransformError('not a date (YYYY, YYYY-MM or YYYY-MM-DD)');
      return s.replace(/-/g, '');
    },
  ),
  'fhir-instant': simple(
    'fhir-instant',
    'instant',
    'any',
    (v) => {
      const s = str(v);
      if (!FHIR_TS.test(s)) throw new TransformError('not a FHIR instant (date, time and zone)');
      return new Date(Date.parse(s)).toISOString();
    },
    (v) => new Date(toMillis(v)).toISOString(),
  ),
  integer: simple(
    'integer',
    'number',
    'any',
    (v) => {
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      const s = str(v).trim();
      if (!/^-?[0-9]{1,15}$/.test(s)) throw new TransformError('not an integer');
      return Number(s);
    },
    (v) => String(v),
  ),
  'hl7-duration': simple(
    'hl7-duration',
    'number',
    'hl7v2',
    // A unit beside the value (SCH-10) is applied by the engine before this (rule `units`).
    (v) => (typeof v === 'number' ? v : durationMinutes(str(v))),
    (v) => String(v),
  ),
  // Inbound reads XAD-1 with its sub-components; outbound writes the line whole in SAD.1.
  'street-line': (arg) =>
    arg !== undefined
      ? 'transform street-line takes no argument'
      : {
          spec: 'street-line',
          name: 'street-line',
          produces: 'string',
          protocol: 'hl7v2',
          readsSubcomponents: true,
          in: (v) => streetLine(str(v)),
          out: (v) => str(v).trim(),
        },
  // Inbound reads XTN-5/6/7 when XTN-1 is empty; outbound writes the number as it is.
  'xtn-number': (arg) =>
    arg !== undefined
      ? 'transform xtn-number takes no argument'
      : {
          spec: 'xtn-number',
          name: 'xtn-number',
          produces: 'string',
          protocol: 'hl7v2',
          fallbackComponents: { for: 1, components: [5, 6, 7] },
          in: (v) => xtnNumber(str(v)),
          out: (v) => str(v).trim(),
        },
  // An e-mail field holds what the sender's user typed: "NON", "pas d'email", a phone number.
  // Only an address (one @, a dotted domain, no space) is an e-mail; anything else fails the
  // rule, so it is dropped with a flag rather than stored, then refused downstream.
  email: simple(
    'email',
    'string',
    'any',
    (v) => checkEmail(str(v).trim()),
    (v) => checkEmail(str(v).trim()),
  ),
  'phone-e164': (arg) => {
    if (arg !== undefined && arg !== 'national')
      return `transform phone-e164 takes no argument or :national (got :${arg})`;
    return {
      spec: arg ? `phone-e164:${arg}` : 'phone-e164',
      name: 'phone-e164',
      produces: 'string',
      protocol: 'any',
      in: (v, ctx) => phoneToE164(str(v), ctx.country),
      out: (v) => (arg === 'national' ? e164ToFrenchNational(str(v)) : phoneToE164(str(v))),
    };
  },
  prefix: (arg) => {
    if (!arg) return 'transform prefix needs the text to add, e.g. prefix:8';
    return {
      spec: `prefix:${arg}`,
      name: 'prefix',
      produces: 'string',
      protocol: 'any',
      in: (v) => `${arg}${str(v)}`,
      out: (v) => {
        const s = str(v);
        if (!s.startsWith(arg)) throw new TransformError(`value does not start with the prefix ${arg}`);
        return s.slice(arg.length);
      },
    };
  },
  reference: (arg) => {
    if (!arg || !/^[A-Z][A-Za-z]+$/.test(arg))
      return 'transform reference needs a resource type, e.g. reference:Patient';
    const prefix = `${arg}/`;
    return {
      spec: `reference:${arg}`,
      name: 'reference',
      produces: 'string',
      protocol: 'any',
      in: (v) => {
        const s = str(v);
        if (!REF_ID.test(s)) throw new TransformError(`not usable as a ${arg} id (1-64 of A-Z a-z 0-9 - .)`);
        return prefix + s;
      },
      out: (v) => {
        const s = str(v);
        if (!s.startsWith(prefix)) throw new TransformError(`not a reference to a ${arg}`);
        return s.slice(prefix.length);
      },
    };
  },
};

export const TRANSFORM_NAMES: readonly string[] = Object.keys(FACTORIES);

/** `name` or `name:arg` → a transform, or a message saying what is wrong. */
export function compileTransform(spec: string): Transform | string {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? undefined : spec.slice(colon + 1);
  const factory = FACTORIES[name];
  if (!factory)
    return `unknown transform ${name}${didYouMean(name, TRANSFORM_NAMES)}; known: ${TRANSFORM_NAMES.join(', ')}`;
  return factory(arg);
}

/** Whether a zone name is an IANA zone this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

export function timeZoneNames(): readonly string[] {
  return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
}
