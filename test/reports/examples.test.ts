/**
 * The report examples a new user copies ask for the practice's own days, as the CSV prints them
 * (issue 19: the README's `to=` was a UTC instant, 00:59:59 the next day in Paris).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';

import { parsePeriod } from '../../src/reports/period.js';
import { ROOT } from '../helpers/cli.js';

const LOCAL_DAY = /^(\d{4}-\d{2}-\d{2}|\$TODAY|\$TOMORROW)$/;

describe('the report examples of the README and docs/reports.md', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const docs = readFileSync(join(ROOT, 'docs', 'reports.md'), 'utf8');

  it('give from and to as local dates, today to tomorrow in the practice’s zone', () => {
    const queries = [...`${readme}\n${docs}`.matchAll(/reports\/activity\?([^"'\s`]+)/g)].map(
      (m) => new URLSearchParams(m[1] as string),
    );
    const examples = queries.filter((q) => q.get('from') !== '<…>');
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const q of examples) {
      expect(q.get('from')).toMatch(LOCAL_DAY);
      expect(q.get('to')).toMatch(LOCAL_DAY);
    }
    expect(readme).toContain(
      'TODAY=$(TZ=Europe/Paris date +%F); TOMORROW=$(TZ=Europe/Paris date -d tomorrow +%F)',
    );
  });

  it('cover the local day from midnight to midnight, as the CSV says, on a clock-change day too', () => {
    const local = (iso: string) =>
      DateTime.fromISO(iso, { zone: 'Europe/Paris' }).toFormat('yyyy-MM-dd HH:mm:ss');
    for (const [today, tomorrow] of [
      ['2026-12-07', '2026-12-08'],
      ['2026-10-25', '2026-10-26'],
    ] as const) {
      const period = parsePeriod(today, tomorrow, 'Europe/Paris', 366);
      expect([local(period.from), local(period.to)]).toEqual([`${today} 00:00:00`, `${tomorrow} 00:00:00`]);
    }
    // The old example's bound: a UTC instant that the CSV prints as the next local day.
    const utc = parsePeriod('2026-12-07', '2026-12-07T23:59:59Z', 'Europe/Paris', 366);
    expect(local(utc.to)).toBe('2026-12-08 00:59:59');
  });
});
