/**
 * The French regions an agenda can sit in: which public holidays apply there and which IANA
 * zone its wall-clock times are in. Holidays come from `date-holidays` (3.37), whose French data
 * was checked date by date against the law (test/agenda/holidays.test.ts):
 * - Code du travail L3133-1: the eleven national public holidays (jours fériés);
 * - Alsace-Moselle (Bas-Rhin 67, Haut-Rhin 68, Moselle 57), Code du travail L3134-13: Good
 *   Friday and 26 December on top;
 * - overseas departments, loi n° 83-550 and décret n° 83-1003: the abolition of slavery day —
 *   Mayotte 27 April, Martinique 22 May, Guadeloupe 27 May, Guyane 10 June, Réunion 20 December.
 *   date-holidays also lists Good Friday for Guadeloupe and Martinique (observed there by
 *   custom and collective agreements); kept, as practices there close that day.
 * Saint-Barthélemy 9 October is right in date-holidays; Saint-Martin's is 28 May (décret
 * n° 2012-553), where date-holidays 3.37 says 27 May (Guadeloupe's): corrected below.
 * New Caledonia and French Polynesia set their own holidays (24 September; 5 March and
 * 20 November); date-holidays has them too.
 */
import { createRequire } from 'node:module';

import type HolidaysClass from 'date-holidays';

/**
 * date-holidays is loaded on first use, not at import: its data takes about a second to load,
 * which every process importing the sync engine would otherwise pay at start-up.
 */
let Holidays: typeof HolidaysClass | undefined;
function holidaysClass(): typeof HolidaysClass {
  Holidays ??= createRequire(import.meta.url)('date-holidays') as typeof HolidaysClass;
  return Holidays;
}

export const REGIONS = {
  metropole: { country: 'FR', state: undefined, zone: 'Europe/Paris', label: 'France métropolitaine' },
  'alsace-moselle': { country: 'FR', state: '57', zone: 'Europe/Paris', label: 'Alsace-Moselle' },
  guadeloupe: { country: 'FR', state: 'GP', zone: 'America/Guadeloupe', label: 'Guadeloupe' },
  martinique: { country: 'FR', state: 'MQ', zone: 'America/Martinique', label: 'Martinique' },
  guyane: { country: 'FR', state: 'GF', zone: 'America/Cayenne', label: 'Guyane' },
  reunion: { country: 'FR', state: 'RE', zone: 'Indian/Reunion', label: 'La Réunion' },
  mayotte: { country: 'FR', state: 'YT', zone: 'Indian/Mayotte', label: 'Mayotte' },
  'saint-martin': { country: 'FR', state: 'MF', zone: 'America/Marigot', label: 'Saint-Martin' },
  'saint-barthelemy': {
    country: 'FR',
    state: 'BL',
    zone: 'America/St_Barthelemy',
    label: 'Saint-Barthélemy',
  },
  'nouvelle-caledonie': {
    country: 'NC',
    state: undefined,
    zone: 'Pacific/Noumea',
    label: 'Nouvelle-Calédonie',
  },
  polynesie: { country: 'PF', state: undefined, zone: 'Pacific/Tahiti', label: 'Polynésie française' },
} as const satisfies Record<
  string,
  { country: string; state: string | undefined; zone: string; label: string }
>;

export type Region = keyof typeof REGIONS;
export const REGION_NAMES = Object.keys(REGIONS) as Region[];

export interface PublicHoliday {
  /** Local date, `YYYY-MM-DD`. */
  readonly date: string;
  /** French name as date-holidays gives it ("Vendredi saint", "Abolition de l’esclavage"). */
  readonly name: string;
}

/** Where date-holidays is wrong: its month-day → the legal one. */
const CORRECTIONS: Partial<Record<Region, Readonly<Record<string, string>>>> = {
  'saint-martin': { '05-27': '05-28' },
};

const calendars = new Map<Region, HolidaysClass>();
const byYear = new Map<string, readonly PublicHoliday[]>();

/** Public holidays (type `public` in date-holidays; observances left out) of a region and year. */
export function publicHolidays(region: Region, year: number): readonly PublicHoliday[] {
  const key = `${region}:${year}`;
  const known = byYear.get(key);
  if (known) return known;
  let cal = calendars.get(region);
  if (!cal) {
    const r = REGIONS[region];
    const H = holidaysClass();
    cal = r.state === undefined ? new H(r.country) : new H(r.country, r.state);
    calendars.set(region, cal);
  }
  const fix = CORRECTIONS[region] ?? {};
  const list = cal
    .getHolidays(year)
    .filter((h) => h.type === 'public')
    .map((h) => {
      const date = h.date.slice(0, 10);
      const moved = fix[date.slice(5)];
      return { date: moved === undefined ? date : `${year}-${moved}`, name: h.name };
    })
    .sort((a, b) => a.date.localeCompare(b.date));
  byYear.set(key, list);
  return list;
}

/** The holiday on a local date (`YYYY-MM-DD`), if any. */
export function holidayOn(region: Region, date: string): PublicHoliday | undefined {
  return publicHolidays(region, Number(date.slice(0, 4))).find((h) => h.date === date);
}
