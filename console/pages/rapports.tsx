/**
 * Rapports: the activity of one practice over a period of local days (docs/reports.md), as
 * charts with their data tables, the CSV the practice's staff open in Excel, and the daily
 * digests with their webhook settings.
 *
 * The figures come from the API (src/api/routes/reports.ts): GET /api/v1/reports/activity for
 * the whole period (totals, each link's current lag, the CSV), and GET /api/v1/reports/series for
 * the charts (per local day up to 62 days, per ISO week beyond) — or, from a service without the
 * series, one activity report per day, week or month, a few at a time. Percentiles are the API's
 * exact nearest-rank values of each bucket, never averaged here. The sync lag of the past is not
 * kept by the service: its chart shows each link's lag now.
 */
import { useState } from 'preact/hooks';

import { getJson, ifMatch, query, sendJson } from '../api.js';
import { CHART_COLOURS, ChartFigure, type ChartSeries } from '../components/chart.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import {
  dayAfter,
  daysIn,
  formatDay,
  type Period,
  periodFromSearch,
  PeriodPicker,
} from '../components/period.js';
import { type Practice, useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { formatDateTime, formatDuration, formatNumber, t } from '../i18n/index.js';
import { setSearch } from '../router.js';
import { can } from '../session.js';
import type { PageProps } from './types.js';

/** The API's longest period (reports.maxRangeDays, default 366). */
const MAX_DAYS = 366;

const COUNTERS = ['booked', 'moved', 'cancelled', 'noshow', 'arrived', 'refused'] as const;
type Counter = (typeof COUNTERS)[number];
type Counts = Readonly<Record<Counter, number>>;

interface Latency {
  readonly count: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}
interface MessageStats {
  readonly received: number;
  readonly delivered: number;
  readonly latencyMs: Latency;
}

/** GET /api/v1/reports/activity (src/reports/report-schema.ts), the parts shown here. */
export interface ActivityReport {
  readonly practice: { readonly id: string; readonly name: string; readonly timezone: string };
  readonly period: { readonly from: string; readonly to: string };
  readonly generatedAt: string;
  readonly appointments: {
    readonly total: Counts;
    readonly byOrigin: { readonly secretariat: Counts; readonly practice: Counts };
  };
  readonly messages: { readonly all: MessageStats; readonly urgencies: MessageStats };
  readonly deadLetters: { readonly total: number; readonly openNow: number };
  readonly links: readonly {
    readonly linkId: string;
    readonly name: string;
    readonly role: 'secretariat' | 'practice';
    readonly connector: string;
    readonly lagSeconds: number | null;
  }[];
}

/** GET /api/v1/reports/digests. */
interface DigestSummary {
  readonly practiceId: string;
  readonly day: string;
  readonly createdAt: string;
  readonly webhook: {
    readonly status: 'pending' | 'delivered' | null;
    readonly attempts: number;
    readonly lastError: string | null;
    readonly deliveredAt: string | null;
  };
}

/** GET /api/v1/practices/:id: `settings.digestWebhook` as the API shows it (secret never). */
interface PracticeView {
  readonly id: string;
  readonly name: string;
  readonly timezone: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly version: number;
}
interface DigestWebhookView {
  readonly url: string;
  readonly hasSecret?: boolean;
}

const activityPath = (practice: string, from: string, to: string, format?: 'csv') =>
  `/api/v1/reports/activity${query({ practice, from, to, format })}`;

/** One bar or point of the charts. */
interface Point {
  readonly label: string;
  readonly secretariat: number;
  readonly practice: number;
  readonly urgentP50: number | null;
  readonly urgentP95: number | null;
  readonly deadLetters: number;
}

/** GET /api/v1/reports/series (src/reports/series.ts), the parts shown here. */
interface ActivitySeries {
  readonly bucket: 'day' | 'week';
  readonly points: readonly {
    readonly label: string;
    readonly appointments: { readonly secretariat: Counts; readonly practice: Counts };
    readonly urgentMessages: MessageStats;
    readonly deadLetters: { readonly total: number };
  }[];
}

interface ReportData {
  readonly overall: ActivityReport;
  readonly unit: 'jour' | 'semaine';
  readonly points: readonly Point[];
  /** The series' own CSV, when the service has GET /api/v1/reports/series. */
  readonly seriesCsv: string;
}

const seriesPath = (practice: string, p: Period, bucket: 'day' | 'week', format?: 'csv') =>
  `/api/v1/reports/series${query({ practiceId: practice, from: p.du, to: dayAfter(p.au), bucket, format })}`;

const dayLabel = (d: string) => `${d.slice(8, 10)}/${d.slice(5, 7)}`;

/**
 * The series from GET /api/v1/reports/series (days up to 62, ISO weeks beyond).
 */
async function loadPoints(practice: string, p: Period): Promise<Omit<ReportData, 'overall'>> {
  const bucket = daysIn(p) <= 62 ? 'day' : 'week';
  const series = await getJson<ActivitySeries>(seriesPath(practice, p, bucket));
  return {
    unit: series.bucket === 'day' ? 'jour' : 'semaine',
    seriesCsv: seriesPath(practice, p, bucket, 'csv'),
    points: series.points.map((s) => ({
      label:
        series.bucket === 'day' ? dayLabel(s.label) : t('rapports.semaineDu', { jour: dayLabel(s.label) }),
      secretariat: s.appointments.secretariat.booked,
      practice: s.appointments.practice.booked,
      urgentP50: s.urgentMessages.latencyMs.p50,
      urgentP95: s.urgentMessages.latencyMs.p95,
      deadLetters: s.deadLetters.total,
    })),
  };
}

async function loadReports(practice: string, p: Period): Promise<ReportData> {
  const [overall, points] = await Promise.all([
    getJson<ActivityReport>(activityPath(practice, p.du, dayAfter(p.au))),
    loadPoints(practice, p),
  ]);
  return { overall, ...points };
}

const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms / 100) / 10);

function Charts({ data, period }: { data: ReportData; period: Period }) {
  const { overall, points } = data;
  const categories = points.map((b) => b.label);
  const unitHeader = t(`rapports.${data.unit}`);
  const dates = { du: formatDay(period.du), au: formatDay(period.au) };
  const byOrigin: ChartSeries[] = (['secretariat', 'practice'] as const).map((o, i) => ({
    label: t(`rapports.origines.${o}`),
    values: points.map((r) => r[o]),
    colour: CHART_COLOURS[i] as string,
  }));
  const urgent = overall.messages.urgencies.latencyMs;
  const delays: ChartSeries[] = [
    {
      label: t('rapports.urgences.p50'),
      values: points.map((r) => seconds(r.urgentP50)),
      colour: CHART_COLOURS[0],
    },
    {
      label: t('rapports.urgences.p95'),
      values: points.map((r) => seconds(r.urgentP95)),
      colour: CHART_COLOURS[1],
    },
  ];
  const links = overall.links;
  const lag: ChartSeries[] = [
    { label: t('rapports.retard.serie'), values: links.map((l) => l.lagSeconds), colour: CHART_COLOURS[2] },
  ];
  const dead: ChartSeries[] = [
    {
      label: t('rapports.lettres.serie'),
      values: points.map((r) => r.deadLetters),
      colour: CHART_COLOURS[4],
    },
  ];
  return (
    <div class="charts">
      <ChartFigure
        id="graphique-rdv"
        title={t('rapports.rdv.titre')}
        summary={t('rapports.rdv.resume', {
          ...dates,
          secretariat: overall.appointments.byOrigin.secretariat.booked,
          practice: overall.appointments.byOrigin.practice.booked,
        })}
        kind="bar"
        stacked
        categoryHeader={unitHeader}
        categories={categories}
        series={byOrigin}
        unit={t('rapports.nombre')}
        integers
      />
      <ChartFigure
        id="graphique-urgences"
        title={t('rapports.urgences.titre')}
        summary={
          urgent.count === 0
            ? t('rapports.urgences.aucun', dates)
            : t('rapports.urgences.resume', {
                ...dates,
                n: urgent.count,
                p50: formatDuration(urgent.p50 === null ? null : urgent.p50 / 1000),
                p95: formatDuration(urgent.p95 === null ? null : urgent.p95 / 1000),
              })
        }
        kind="line"
        categoryHeader={unitHeader}
        categories={categories}
        series={delays}
        unit={t('rapports.secondes')}
        format={(v) => formatDuration(v)}
      />
      <ChartFigure
        id="graphique-retard"
        title={t('rapports.retard.titre')}
        summary={
          links.length === 0
            ? t('rapports.retard.aucune')
            : t('rapports.retard.resume', {
                liste: links
                  .map(
                    (l) =>
                      `${l.name} ${l.lagSeconds === null ? t('rapports.retard.jamais') : formatDuration(l.lagSeconds)}`,
                  )
                  .join(', '),
              })
        }
        kind="bar"
        horizontal
        categoryHeader={t('rapports.liaison')}
        categories={links.map((l) => l.name)}
        series={lag}
        unit={t('rapports.secondes')}
        format={(v) => formatDuration(v)}
      />
      <ChartFigure
        id="graphique-lettres"
        title={t('rapports.lettres.titre')}
        summary={t('rapports.lettres.resume', {
          ...dates,
          n: overall.deadLetters.total,
          ouvertes: overall.deadLetters.openNow,
        })}
        kind="bar"
        categoryHeader={unitHeader}
        categories={categories}
        series={dead}
        unit={t('rapports.nombre')}
        integers
      />
    </div>
  );
}

function Totals({ report }: { report: ActivityReport }) {
  const rows: [string, Counts][] = [
    [t('rapports.origines.secretariat'), report.appointments.byOrigin.secretariat],
    [t('rapports.origines.practice'), report.appointments.byOrigin.practice],
    [t('rapports.totaux.total'), report.appointments.total],
  ];
  return (
    <table class="totaux">
      <caption>{t('rapports.totaux.titre')}</caption>
      <thead>
        <tr>
          <th scope="col">{t('rapports.totaux.origine')}</th>
          {COUNTERS.map((c) => (
            <th scope="col" class="num" key={c}>
              {t(`rapports.totaux.${c}`)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map(([label, counts]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            {COUNTERS.map((c) => (
              <td class="num" key={c}>
                {formatNumber(counts[c])}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const STATUS_TONE: Record<'pending' | 'delivered' | 'none', Tone> = {
  pending: 'warn',
  delivered: 'ok',
  none: 'neutral',
};

function DigestList({ practice }: { practice: string }) {
  const load = useLoad(
    () => getJson<{ items: DigestSummary[] }>(`/api/v1/reports/digests${query({ practice, limit: 31 })}`),
    [practice],
  );
  if (load.error) return <ErrorBox error={load.error} retry={load.reload} />;
  if (!load.data) return <Loading />;
  if (load.data.items.length === 0) return <p>{t('rapports.resumes.aucun')}</p>;
  return (
    <table>
      <caption>{t('rapports.resumes.liste')}</caption>
      <thead>
        <tr>
          <th scope="col">{t('rapports.resumes.jourCol')}</th>
          <th scope="col">{t('rapports.resumes.creeLe')}</th>
          <th scope="col">{t('rapports.resumes.envoi')}</th>
          <th scope="col" class="num">
            {t('rapports.resumes.tentatives')}
          </th>
          <th scope="col">{t('rapports.resumes.derniereErreur')}</th>
          <th scope="col">{t('rapports.resumes.remisLe')}</th>
          <th scope="col">{t('rapports.resumes.fichier')}</th>
        </tr>
      </thead>
      <tbody>
        {load.data.items.map((d) => {
          const status = d.webhook.status ?? 'none';
          return (
            <tr key={d.day}>
              <td>{formatDay(d.day)}</td>
              <td>{formatDateTime(d.createdAt)}</td>
              <td>
                <Badge tone={STATUS_TONE[status]}>{t(`rapports.resumes.statuts.${status}`)}</Badge>
              </td>
              <td class="num">{formatNumber(d.webhook.attempts)}</td>
              <td>{d.webhook.lastError ?? '—'}</td>
              <td>{formatDateTime(d.webhook.deliveredAt)}</td>
              <td>
                <a
                  download=""
                  href={`/api/v1/reports/digests/${encodeURIComponent(practice)}/${d.day}?format=csv`}
                >
                  {t('rapports.resumes.telecharger', { jour: formatDay(d.day) })}
                </a>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function webhookOf(p: PracticeView): DigestWebhookView | null {
  const w = p.settings['digestWebhook'];
  if (typeof w !== 'object' || w === null || typeof (w as DigestWebhookView).url !== 'string') return null;
  return w as DigestWebhookView;
}

/**
 * `settings.digestWebhook` of the practice (PATCH /api/v1/practices/:id, admin): `settings` is
 * replaced as a whole, so the other settings are sent back as read; a webhook without `secret`
 * keeps the stored one, `secret: null` removes it.
 */
function DigestSettings({ practice, editable }: { practice: string; editable: boolean }) {
  const load = useLoad(
    () => getJson<PracticeView>(`/api/v1/practices/${encodeURIComponent(practice)}`),
    [practice],
  );
  const [url, setUrl] = useState<string | null>(null);
  const [secret, setSecret] = useState('');
  const [dropSecret, setDropSecret] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState<string | null>(null);
  if (load.error) return <ErrorBox error={load.error} retry={load.reload} />;
  if (!load.data) return <Loading />;
  const view = load.data;
  const current = webhookOf(view);
  const shownUrl = url ?? current?.url ?? '';

  const save = async (next: Record<string, unknown> | null, message: string) => {
    setSaving(true);
    setError(null);
    setDone(null);
    const { digestWebhook: _old, ...others } = view.settings;
    try {
      await sendJson('PATCH', `/api/v1/practices/${encodeURIComponent(practice)}`, {
        body: { settings: next ? { ...others, digestWebhook: next } : others },
        headers: ifMatch(view.version),
      });
      setSecret('');
      setDropSecret(false);
      setUrl(null);
      setDone(message);
      load.reload();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setSaving(false);
    }
  };

  if (!editable)
    return (
      <div class="digest-settings">
        <h3>{t('rapports.resumes.reglages')}</h3>
        <p>
          {current
            ? t('rapports.resumes.webhookActuel', { url: current.url })
            : t('rapports.resumes.aucunWebhook')}
        </p>
        {current && (
          <p>
            {current.hasSecret ? t('rapports.resumes.secretPresent') : t('rapports.resumes.secretAbsent')}
          </p>
        )}
        <p class="help">{t('rapports.resumes.lectureSeule')}</p>
      </div>
    );

  return (
    <form
      class="digest-settings"
      aria-labelledby="reglages-resumes"
      onSubmit={(e) => {
        e.preventDefault();
        void save(
          {
            url: shownUrl.trim(),
            ...(secret.trim() !== '' ? { secret: secret.trim() } : dropSecret ? { secret: null } : {}),
          },
          t('rapports.resumes.enregistre'),
        );
      }}
    >
      <h3 id="reglages-resumes">{t('rapports.resumes.reglages')}</h3>
      <p>
        {current
          ? t('rapports.resumes.webhookActuel', { url: current.url })
          : t('rapports.resumes.aucunWebhook')}
      </p>
      <div class="field">
        <label for="resume-url">{t('rapports.resumes.url')}</label>
        <input
          id="resume-url"
          type="url"
          required
          value={shownUrl}
          aria-describedby="resume-url-aide"
          onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
        />
        <p class="help" id="resume-url-aide">
          {t('rapports.resumes.urlAide')}
        </p>
      </div>
      <div class="field">
        <label for="resume-secret">{t('rapports.resumes.secret')}</label>
        <input
          id="resume-secret"
          type="password"
          autoComplete="off"
          value={secret}
          aria-describedby="resume-secret-aide resume-secret-etat"
          onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
        />
        <p class="help" id="resume-secret-aide">
          {t('rapports.resumes.secretAide')}
        </p>
        <p class="help" id="resume-secret-etat">
          {current?.hasSecret ? t('rapports.resumes.secretPresent') : t('rapports.resumes.secretAbsent')}
        </p>
      </div>
      {current?.hasSecret && (
        <div class="field checkbox">
          <label>
            <input
              type="checkbox"
              checked={dropSecret}
              onChange={(e) => setDropSecret((e.target as HTMLInputElement).checked)}
            />{' '}
            {t('rapports.resumes.retirerSecret')}
          </label>
        </div>
      )}
      {error && <ErrorBox error={error} />}
      {done && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      <div class="page-actions">
        <button type="submit" disabled={saving}>
          {t('rapports.resumes.enregistrer')}
        </button>
        {current && (
          <button
            type="button"
            class="secondary"
            disabled={saving}
            onClick={() => void save(null, t('rapports.resumes.desactive'))}
          >
            {t('rapports.resumes.desactiver')}
          </button>
        )}
      </div>
    </form>
  );
}

function PracticeChooser({
  practices,
  onChoose,
}: {
  practices: readonly Practice[];
  onChoose: (id: string) => void;
}) {
  return (
    <div class="practice-chooser">
      <p>{t('rapports.choisirCabinet')}</p>
      <ul>
        {practices.map((p) => (
          <li key={p.id}>
            <button type="button" class="secondary" onClick={() => onChoose(p.id)}>
              {t('rapports.voirCabinet', { cabinet: p.name })}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Monday of the week holding `day` (YYYY-MM-DD, calendar arithmetic in UTC: no zone involved). */
function mondayOf(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

const reviewPath = (practice: string, period: 'week' | 'month', start: string, format: 'html' | 'pdf') =>
  `/api/v1/practices/${encodeURIComponent(practice)}/reviews${query({ period, start, format })}`;

/** The weekly and monthly review documents of the period's last day (GET …/reviews, HTML or PDF). */
function ReviewLinks({ practice, day }: { practice: string; day: string }) {
  const week = mondayOf(day);
  const month = `${day.slice(0, 7)}-01`;
  const monthName = new Date(`${month}T12:00:00Z`).toLocaleDateString('fr-FR', {
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });
  const row = (label: string, period: 'week' | 'month', start: string) => (
    <li data-review={period}>
      {label} —{' '}
      <a href={reviewPath(practice, period, start, 'html')} target="_blank" rel="noopener">
        {t('rapports.revue.html')}
      </a>{' '}
      ·{' '}
      <a href={reviewPath(practice, period, start, 'pdf')} download="">
        {t('rapports.revue.pdf')}
      </a>
    </li>
  );
  return (
    <section aria-labelledby="revue" class="reviews">
      <h2 id="revue">{t('rapports.revue.titre')}</h2>
      <p class="intro">{t('rapports.revue.intro')}</p>
      <ul>
        {row(t('rapports.revue.semaine', { jour: formatDay(week) }), 'week', week)}
        {row(t('rapports.revue.mois', { mois: monthName }), 'month', month)}
      </ul>
    </section>
  );
}

function PracticeReports({ practice, period }: { practice: string; period: Period }) {
  const { session } = useConsole();
  const load = useLoad(() => loadReports(practice, period), [practice, period.du, period.au]);
  const report = load.data?.overall;
  return (
    <>
      <div class="page-actions">
        <a class="button" download="" href={activityPath(practice, period.du, dayAfter(period.au), 'csv')}>
          {t('rapports.exporterCsv')}
        </a>
        {load.data?.seriesCsv && (
          <a class="button secondary" download="" href={load.data.seriesCsv}>
            {t('rapports.exporterSeries')}
          </a>
        )}
        <button type="button" class="secondary" onClick={load.reload} disabled={load.loading}>
          {t('rapports.actualiser')}
        </button>
        <span class="help">{t('rapports.exporterAide')}</span>
      </div>
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {!load.data && !load.error && <Loading />}
      {load.data && report && (
        <section aria-labelledby="activite" data-practice={practice} aria-busy={load.loading}>
          <h2 id="activite">
            {t('rapports.perimetre', {
              cabinet: report.practice.name,
              du: formatDay(period.du),
              au: formatDay(period.au),
              fuseau: report.practice.timezone,
            })}
          </h2>
          <Charts data={load.data} period={period} />
          <Totals report={report} />
        </section>
      )}
      <ReviewLinks practice={practice} day={period.au} />
      {can(session, 'integrator') && (
        <section aria-labelledby="resumes" class="digests">
          <h2 id="resumes">{t('rapports.resumes.titre')}</h2>
          <p class="intro">{t('rapports.resumes.intro')}</p>
          <DigestSettings practice={practice} editable={can(session, 'admin')} />
          <DigestList practice={practice} />
        </section>
      )}
    </>
  );
}

export function Reports(props: PageProps) {
  const { practiceId, practices, setPracticeId } = useConsole();
  const period = periodFromSearch(props.search, '7j');
  return (
    <>
      <PageHeader title={t('rapports.titre')} intro={t('rapports.intro')} />
      <PeriodPicker value={period} maxDays={MAX_DAYS} onChange={(p) => setSearch({ du: p.du, au: p.au })} />
      {practiceId === null ? (
        <PracticeChooser practices={practices} onChoose={setPracticeId} />
      ) : (
        <PracticeReports practice={practiceId} period={period} />
      )}
    </>
  );
}
