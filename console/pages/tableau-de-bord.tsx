import { useState } from 'preact/hooks';

import { getJson, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import { useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { useChanges } from '../events.js';
import { formatDateTime, formatDuration, formatNumber, t } from '../i18n/index.js';
import { BASE } from '../router.js';
import { can } from '../session.js';

/** GET /api/v1/dashboard (src/reports/dashboard.ts). */
export interface DashboardLink {
  readonly id: string;
  readonly name: string;
  readonly connector: string;
  readonly role: string;
  readonly state: 'running' | 'failed' | 'stopped' | 'disabled';
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly lastSuccessAt: string | null;
  readonly outbox: { readonly pending: number; readonly leased: number; readonly dead: number };
  readonly oldestPendingSeconds: number;
  readonly deadLetters: number;
  readonly pollLagSeconds: number | null;
}

export interface DashboardPractice {
  readonly id: string;
  readonly name: string;
  readonly links: readonly DashboardLink[];
  readonly totals: {
    readonly openConflicts: number;
    readonly openReviews: { readonly patientMatch: number; readonly practitionerMapping: number };
    readonly deadLetters: number;
    readonly urgentMessages: {
      readonly undelivered: number;
      readonly unacknowledged: number;
      readonly oldestUnacknowledgedAt: string | null;
    };
    readonly syncLagSeconds: number;
  };
  readonly attention: readonly string[];
}

const STATE_TONE: Record<DashboardLink['state'], Tone> = {
  running: 'ok',
  failed: 'bad',
  stopped: 'warn',
  disabled: 'neutral',
};

function Card(props: { label: string; value: string; bad: boolean; href?: string }) {
  const body = (
    <>
      <div class="value">{props.value}</div>
      <div class="label">{props.label}</div>
    </>
  );
  return (
    <div class={`card${props.bad ? ' bad' : ''}`}>{props.href ? <a href={props.href}>{body}</a> : body}</div>
  );
}

/** A link needs a person when it failed to start or its last exchange failed. */
function failing(l: DashboardLink): boolean {
  return l.state === 'failed' || l.error !== null;
}

function LinkState({ l }: { l: DashboardLink }) {
  const tone: Tone = l.error && l.state === 'running' ? 'bad' : STATE_TONE[l.state];
  return (
    <>
      <Badge tone={tone}>
        {l.error && l.state === 'running' ? t('tableau.enErreur') : t(`commun.etats.${l.state}`)}
      </Badge>
      {l.error && (
        <div class="reason">
          {t('tableau.raison', { raison: errorLabel(l.error.code) })}
          <div class="detail">
            <code>{l.error.code}</code> {l.error.message}
          </div>
        </div>
      )}
    </>
  );
}

function errorLabel(code: string): string {
  const known = t(`tableau.erreurs.${code}` as 'tableau.erreurs.ERR_CONNECTOR_UNAVAILABLE');
  return known.startsWith('tableau.') ? code : known;
}

/** UrgentView of src/sync/urgent.ts: ids and times only, never the message's text. */
interface UrgentWaiting {
  readonly id: string;
  readonly takenAt: string;
  readonly dueAt: string;
  readonly step: number;
}

/**
 * The practice's urgent messages still waiting, each with « Accuser réception » (POST
 * …/urgent-messages/:id/acknowledge, role viewer): the button is left out for a session whose
 * role may not acknowledge.
 */
function UrgentWaitingList({ practice, count }: { practice: string; count: number }) {
  const { session } = useConsole();
  const [done, setDone] = useState<string | null>(null);
  const load = useLoad(
    () =>
      getJson<{ items: UrgentWaiting[] }>(
        `/api/v1/practices/${encodeURIComponent(practice)}/urgent-messages${query({ state: 'waiting' })}`,
      ),
    [practice, count],
  );
  const acknowledge = async (id: string) => {
    await sendJson(
      'POST',
      `/api/v1/practices/${encodeURIComponent(practice)}/urgent-messages/${encodeURIComponent(id)}/acknowledge`,
    );
    setDone(t('tableau.urgents.accuse'));
    load.reload();
  };
  if (load.error) return <ErrorBox error={load.error} retry={load.reload} />;
  const items = load.data?.items ?? [];
  if (items.length === 0 && !done) return null;
  return (
    <div class="urgent-waiting">
      <h3>{t('tableau.urgents.titre')}</h3>
      {done && <p role="status">{done}</p>}
      <ul>
        {items.map((m) => (
          <li key={m.id} data-urgent={m.id}>
            {t('tableau.urgents.ligne', {
              pris: formatDateTime(m.takenAt),
              echeance: formatDateTime(m.dueAt),
            })}
            {m.step > 0 && (
              <>
                {' '}
                <Badge tone="bad">{t('tableau.urgents.relance')}</Badge>
              </>
            )}{' '}
            {can(session, 'viewer') && (
              <button
                type="button"
                onClick={() => void acknowledge(m.id).catch((e: Error) => setDone(e.message))}
              >
                {t('tableau.urgents.accuser')}
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

function PracticeBlock({ p }: { p: DashboardPractice }) {
  const outbox = p.links.reduce((n, l) => n + l.outbox.pending + l.outbox.leased, 0);
  const reviews = p.totals.openReviews.patientMatch + p.totals.openReviews.practitionerMapping;
  const urgent = p.totals.urgentMessages;
  return (
    <section
      class={`practice-block${p.attention.length ? ' needs-attention' : ''}`}
      aria-labelledby={`cabinet-${p.id}`}
      data-practice={p.id}
    >
      <h2 id={`cabinet-${p.id}`}>{p.name}</h2>
      {p.attention.length ? (
        <ul class="attention-list" aria-label={t('tableau.aTraiter')}>
          {p.attention.map((a) => (
            <li key={a}>
              <Badge tone="bad">{t(`tableau.attention.${a}` as 'tableau.attention.lag')}</Badge>
            </li>
          ))}
        </ul>
      ) : (
        <p>
          <Badge tone="ok">{t('tableau.toutVaBien')}</Badge>
        </p>
      )}
      <div class="cards">
        <Card label={t('tableau.fileAttente')} value={formatNumber(outbox)} bad={false} />
        <Card
          label={t('tableau.lettresMortes')}
          value={formatNumber(p.totals.deadLetters)}
          bad={p.totals.deadLetters > 0}
          href={`${BASE}/lettres-mortes`}
        />
        <Card
          label={t('tableau.conflits')}
          value={formatNumber(p.totals.openConflicts)}
          bad={p.totals.openConflicts > 0}
          href={`${BASE}/conflits`}
        />
        <Card
          label={t('tableau.revues')}
          value={formatNumber(reviews)}
          bad={reviews > 0}
          href={`${BASE}/conflits`}
        />
        <Card
          label={t('tableau.urgencesNonRemises')}
          value={formatNumber(urgent.undelivered)}
          bad={urgent.undelivered > 0}
        />
        <Card
          label={t('tableau.urgencesNonAcquittees')}
          value={formatNumber(urgent.unacknowledged)}
          bad={urgent.unacknowledged > 0}
        />
        <Card
          label={t('tableau.retard')}
          value={formatDuration(p.totals.syncLagSeconds)}
          bad={p.attention.includes('lag')}
        />
      </div>
      {urgent.unacknowledged > 0 && <UrgentWaitingList practice={p.id} count={urgent.unacknowledged} />}
      <table>
        <caption>{t('tableau.liaisons')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('tableau.liaison')}</th>
            <th scope="col">{t('tableau.connecteur')}</th>
            <th scope="col">{t('tableau.etat')}</th>
            <th scope="col">{t('tableau.dernierSucces')}</th>
            <th scope="col" class="num">
              {t('tableau.fileAttente')}
            </th>
            <th scope="col">{t('tableau.plusAncien')}</th>
            <th scope="col" class="num">
              {t('tableau.lettresMortes')}
            </th>
          </tr>
        </thead>
        <tbody>
          {p.links.map((l) => (
            <tr
              key={l.id}
              class={failing(l) ? 'attention' : undefined}
              data-link={l.id}
              data-state={failing(l) ? 'failing' : l.state}
            >
              <th scope="row">
                <a href={`${BASE}/liaisons/${encodeURIComponent(l.id)}`}>{l.name || l.id}</a>
              </th>
              <td>
                {t(`commun.connecteurs.${l.connector}` as 'commun.connecteurs.fhir')} —{' '}
                {t(`commun.rolesLiaison.${l.role}` as 'commun.rolesLiaison.practice')}
              </td>
              <td>
                <LinkState l={l} />
              </td>
              <td>{formatDateTime(l.lastSuccessAt)}</td>
              <td class="num">{formatNumber(l.outbox.pending + l.outbox.leased)}</td>
              <td>{l.oldestPendingSeconds > 0 ? formatDuration(l.oldestPendingSeconds) : '—'}</td>
              <td class="num">{formatNumber(l.deadLetters)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function Dashboard() {
  const { practiceId } = useConsole();
  const load = useLoad(
    () => getJson<{ practices: DashboardPractice[] }>(`/api/v1/dashboard${query({ practiceId })}`),
    [practiceId],
  );
  useChanges(practiceId, [], load.reload);
  return (
    <>
      <PageHeader title={t('tableau.titre')} intro={t('tableau.intro')} />
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {!load.data && !load.error && <Loading />}
      {load.data?.practices.length === 0 && <p>{t('tableau.aucunCabinet')}</p>}
      {load.data?.practices.map((p) => (
        <PracticeBlock key={p.id} p={p} />
      ))}
    </>
  );
}
