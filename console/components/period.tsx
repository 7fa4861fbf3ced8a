/**
 * A period of local days (France's zone), as staff think of it: « du 1er au 7 décembre »,
 * both days included. It lives in the address (`du`, `au`: YYYY-MM-DD) so a report or a search
 * can be bookmarked and shared; presets set both dates. The API's periods are [from, to): callers
 * send `to` = the day after `au` (see `dayAfter`).
 */
import { useEffect, useState } from 'preact/hooks';

import { t, TIME_ZONE } from '../i18n/index.js';

const DAY_MS = 86_400_000;
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export interface Period {
  /** First day, included (YYYY-MM-DD, local). */
  readonly du: string;
  /** Last day, included. */
  readonly au: string;
}

/** Today in France, YYYY-MM-DD. */
export function today(now: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: TIME_ZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}

const toMs = (day: string) => Date.parse(`${day}T00:00:00Z`);
const fromMs = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function addDays(day: string, n: number): string {
  return fromMs(toMs(day) + n * DAY_MS);
}
export const dayAfter = (day: string): string => addDays(day, 1);

/** Days from `du` to `au`, both included. */
export function daysIn(p: Period): number {
  return Math.round((toMs(p.au) - toMs(p.du)) / DAY_MS) + 1;
}

export function isDay(s: string | null | undefined): s is string {
  return typeof s === 'string' && DAY_RE.test(s) && !Number.isNaN(toMs(s));
}

/** Offset of France's zone from UTC at an instant, in ms (+1 h in winter, +2 h in summer). */
function zoneOffsetMs(ms: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: TIME_ZONE,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - (ms - (ms % 1000));
}

/** The instant of local midnight of a day in France, ISO-8601 UTC (for APIs that want instants). */
export function localMidnight(day: string): string {
  const guess = toMs(day);
  let ms = guess - zoneOffsetMs(guess);
  ms = guess - zoneOffsetMs(ms);
  return new Date(ms).toISOString();
}

export type PresetId = '7j' | '30j' | 'mois';
export const PRESETS: readonly PresetId[] = ['7j', '30j', 'mois'];

export function preset(id: PresetId, now: Date = new Date()): Period {
  const au = today(now);
  switch (id) {
    case '7j':
      return { du: addDays(au, -6), au };
    case '30j':
      return { du: addDays(au, -29), au };
    case 'mois':
      return { du: `${au.slice(0, 8)}01`, au };
    default:
      return id satisfies never;
  }
}

/** The period in the address, or the default preset when it is missing or malformed. */
export function periodFromSearch(search: URLSearchParams, fallback: PresetId): Period {
  const du = search.get('du');
  const au = search.get('au');
  if (isDay(du) && isDay(au) && du <= au) return { du, au };
  return preset(fallback);
}

/** « 07/12/2026 » */
export function formatDay(day: string): string {
  return `${day.slice(8, 10)}/${day.slice(5, 7)}/${day.slice(0, 4)}`;
}

export interface PeriodPickerProps {
  readonly value: Period;
  /** At most this many days (the API's limit). */
  readonly maxDays: number;
  readonly onChange: (p: Period) => void;
}

/** Two date fields and the presets; a wrong period is said next to the fields, not sent. */
export function PeriodPicker(props: PeriodPickerProps) {
  const [du, setDu] = useState(props.value.du);
  const [au, setAu] = useState(props.value.au);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    setDu(props.value.du);
    setAu(props.value.au);
  }, [props.value.du, props.value.au]);
  const active = PRESETS.find((id) => {
    const p = preset(id);
    return p.du === props.value.du && p.au === props.value.au;
  });
  const submit = (e: Event) => {
    e.preventDefault();
    if (!isDay(du) || !isDay(au)) return setProblem(t('rapports.periode.dateInvalide'));
    if (du > au) return setProblem(t('rapports.periode.ordre'));
    if (daysIn({ du, au }) > props.maxDays)
      return setProblem(t('rapports.periode.tropLong', { max: props.maxDays }));
    setProblem(null);
    props.onChange({ du, au });
  };
  return (
    <form class="filters period" onSubmit={submit} aria-label={t('rapports.periode.titre')}>
      <div class="field">
        <label for="periode-du">{t('rapports.periode.du')}</label>
        <input
          id="periode-du"
          type="date"
          value={du}
          onInput={(e) => setDu((e.target as HTMLInputElement).value)}
          aria-describedby={problem ? 'periode-probleme' : undefined}
        />
      </div>
      <div class="field">
        <label for="periode-au">{t('rapports.periode.au')}</label>
        <input
          id="periode-au"
          type="date"
          value={au}
          onInput={(e) => setAu((e.target as HTMLInputElement).value)}
          aria-describedby={problem ? 'periode-probleme' : undefined}
        />
      </div>
      <button type="submit">{t('rapports.periode.appliquer')}</button>
      <div class="presets" role="group" aria-label={t('rapports.periode.raccourcis')}>
        {PRESETS.map((id) => (
          <button
            key={id}
            type="button"
            class="secondary"
            aria-pressed={active === id}
            onClick={() => {
              setProblem(null);
              props.onChange(preset(id));
            }}
          >
            {t(`rapports.periode.presets.${id}`)}
          </button>
        ))}
      </div>
      {problem && (
        <p id="periode-probleme" class="field-error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}
