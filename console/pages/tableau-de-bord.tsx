import { getJson, query } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import { useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { useChanges } from '../events.js';
import { formatDateTime, formatDuration, formatNumber, t } from '../i18n/index.js';
import { BASE } from '../router.js';

/** GET /api/v1/dashboard (src/api/routes/dashboard.ts). */
export interface DashboardLink {
  readonly id: string;
  readonly connector: string;
  readonly role: string;
  readonly state: 'running' | 'failed' | 'stopped' | 'disabled';
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly lastSuccessAt: string | null;
  readonly outboxDepth: number;
  readonly oldestPendingSeconds: number | null;
  readonly deadLetters: number;
  readonly pollLagSeconds: number | null;
}

export interface DashboardPractice {
  readonly practiceId: string;
  readonly name: string;
  readonly links: readonly DashboardLink[];
  readonly conflicts: number;
  readonly reviews: number;
  readonly urgentPending: number;
  readonly syncLagSeconds: number | null;
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

function PracticeBlock({ p }: { p: DashboardPractice }) {
  const dead = p.links.reduce((n, l) => n + l.deadLetters, 0);
  const outbox = p.links.reduce((n, l) => n + l.outboxDepth, 0);
  return (
    <section
      class={`practice-block${p.attention.length ? ' needs-attention' : ''}`}
      aria-labelledby={`cabinet-${p.practiceId}`}
      data-practice={p.practiceId}
    >
      <h2 id={`cabinet-${p.practiceId}`}>{p.name}</h2>
      {p.attention.length ? (
        <ul class="attention-list" aria-label={t('tableau.aTraiter')}>
          {p.attention.map((a) => (
            <li key={a}>
              <Badge tone="bad">{t(`tableau.attention.${a}` as 'tableau.attention.lag') ?? a}</Badge>
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
          value={formatNumber(dead)}
          bad={dead > 0}
          href={`${BASE}/lettres-mortes`}
        />
        <Card
          label={t('tableau.conflits')}
          value={formatNumber(p.conflicts)}
          bad={p.conflicts > 0}
          href={`${BASE}/conflits`}
        />
        <Card
          label={t('tableau.revues')}
          value={formatNumber(p.reviews)}
          bad={p.reviews > 0}
          href={`${BASE}/conflits`}
        />
        <Card label={t('tableau.urgences')} value={formatNumber(p.urgentPending)} bad={p.urgentPending > 0} />
        <Card
          label={t('tableau.retard')}
          value={formatDuration(p.syncLagSeconds)}
          bad={p.attention.includes('lag')}
        />
      </div>
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
              class={l.state === 'failed' ? 'attention' : undefined}
              data-link={l.id}
              data-state={l.state}
            >
              <td>
                <a href={`${BASE}/liaisons/${encodeURIComponent(l.id)}`}>{l.id}</a>
              </td>
              <td>
                {t(`commun.connecteurs.${l.connector}` as 'commun.connecteurs.fhir')} —{' '}
                {t(`commun.rolesLiaison.${l.role}` as 'commun.rolesLiaison.practice')}
              </td>
              <td>
                <Badge tone={STATE_TONE[l.state]}>{t(`commun.etats.${l.state}`)}</Badge>
                {l.state === 'failed' && (l.errorMessage || l.errorCode) && (
                  <div class="reason">
                    {t('tableau.raison', { raison: l.errorMessage ?? l.errorCode ?? '' })}
                  </div>
                )}
              </td>
              <td>{formatDateTime(l.lastSuccessAt)}</td>
              <td class="num">{formatNumber(l.outboxDepth)}</td>
              <td>{formatDuration(l.oldestPendingSeconds)}</td>
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
        <PracticeBlock key={p.practiceId} p={p} />
      ))}
    </>
  );
}
