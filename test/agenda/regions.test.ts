import { describe, expect, it } from '@jest/globals';

import type { REGION_NAMES } from '../../src/agenda/regions.js';
import { holidayOn, publicHolidays, REGIONS } from '../../src/agenda/regions.js';

const NATIONAL_2026 = [
  '2026-01-01', // Jour de l'an
  '2026-04-06', // Lundi de Pâques
  '2026-05-01',
  '2026-05-08',
  '2026-05-14', // Ascension
  '2026-05-25', // Lundi de Pentecôte
  '2026-07-14',
  '2026-08-15',
  '2026-11-01',
  '2026-11-11',
  '2026-12-25',
];
const dates = (region: (typeof REGION_NAMES)[number], year = 2026) =>
  publicHolidays(region, year).map((h) => h.date);

describe('French public holidays', () => {
  it('gives metropolitan France the eleven national holidays and nothing else', () => {
    expect(dates('metropole')).toEqual(NATIONAL_2026);
  });

  it('computes Easter-dependent holidays for other years (Easter 2027 is 28 March)', () => {
    expect(dates('metropole', 2027)).toEqual(
      expect.arrayContaining(['2027-03-29', '2027-05-06', '2027-05-17']),
    );
    expect(dates('metropole', 2027)).not.toContain('2027-03-26');
  });

  it('adds Good Friday and 26 December in Alsace-Moselle', () => {
    expect(dates('alsace-moselle')).toEqual([...NATIONAL_2026, '2026-04-03', '2026-12-26'].sort());
    expect(holidayOn('alsace-moselle', '2026-04-03')?.name).toBe('Vendredi saint');
    expect(holidayOn('alsace-moselle', '2026-12-26')).toBeDefined();
    expect(holidayOn('metropole', '2026-04-03')).toBeUndefined();
    expect(holidayOn('metropole', '2026-12-26')).toBeUndefined();
  });

  it.each([
    ['reunion', '2026-12-20'],
    ['guadeloupe', '2026-05-27'],
    ['martinique', '2026-05-22'],
    ['guyane', '2026-06-10'],
    ['mayotte', '2026-04-27'],
    ['saint-barthelemy', '2026-10-09'],
    ['saint-martin', '2026-05-28'],
  ] as const)('gives %s its abolition of slavery day on %s', (region, date) => {
    const h = holidayOn(region, date);
    expect(h?.name).toMatch(/esclavage/i);
    expect(dates(region)).toEqual(expect.arrayContaining(NATIONAL_2026));
    // Only on its own date: no other region's abolition day.
    expect(
      publicHolidays(region, 2026)
        .filter((x) => /esclavage/i.test(x.name))
        .map((x) => x.date),
    ).toEqual([date]);
  });

  it('does not give metropolitan France any abolition of slavery day', () => {
    expect(publicHolidays('metropole', 2026).some((h) => /esclavage/i.test(h.name))).toBe(false);
  });

  it('knows each region’s time zone', () => {
    expect(REGIONS.metropole.zone).toBe('Europe/Paris');
    expect(REGIONS.reunion.zone).toBe('Indian/Reunion');
    expect(REGIONS.guadeloupe.zone).toBe('America/Guadeloupe');
    expect(REGIONS.martinique.zone).toBe('America/Martinique');
    expect(REGIONS.guyane.zone).toBe('America/Cayenne');
    expect(REGIONS.mayotte.zone).toBe('Indian/Mayotte');
    expect(REGIONS['nouvelle-caledonie'].zone).toBe('Pacific/Noumea');
    expect(REGIONS.polynesie.zone).toBe('Pacific/Tahiti');
  });
});
