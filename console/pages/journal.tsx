/**
 * Journal d'audit: search the audit trail (GET /api/v1/audit, src/api/routes/audit.ts), export
 * it (GET /api/v1/audit/export, CSV or FHIR AuditEvent Bundle, as a download), and verify the
 * keyed chain (POST /api/v1/audit/verify, admin with an unrestricted key).
 *
 * The API filters by actor, action, practice and period; « Résultat » and « Ressource » are
 * applied here to the events read, reading a few more pages when few match. An admin reads every
 * practice's events; other roles name one practice (the API's `everyPracticeAccess`).
 */
import { useEffect, useState } from 'preact/hooks';

import { ApiError, getJson, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import { dayAfter, isDay, localMidnight } from '../components/period.js';
import { type Practice, useConsole } from '../context.js';
import { journal } from '../i18n/fr/journal.js';
import { formatDateTime, formatNumber, t } from '../i18n/index.js';
import { setSearch } from '../router.js';
import { can, type Session } from '../session.js';
import type { PageProps } from './types.js';

const OUTCOMES = ['success', 'denied', 'failure'] as const;
type Outcome = (typeof OUTCOMES)[number];
const OUTCOME_TONE: Record<Outcome, Tone> = { success: 'ok', denied: 'warn', failure: 'bad' };

/** GET /api/v1/audit: one event. */
export interface AuditEvent {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly role: string | null;
  readonly action: string;
  readonly resourceType: string | null;
  readonly resourceId: string | null;
  readonly patientId: string | null;
  readonly practiceId: string | null;
  readonly outcome: Outcome;
  readonly requestId: string | null;
  readonly via: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  readonly hash: string;
}

/** POST /api/v1/audit/verify. */
interface VerifyResult {
  readonly ok: boolean;
  readonly checked: number;
  readonly firstBadId?: number;
  readonly reason?: string;
  readonly checkpoints?: number;
}

/** The search, as it is in the address. */
interface Criteria {
  readonly acteur: string;
  readonly action: string;
  readonly resultat: Outcome | '';
  readonly ressource: string;
  readonly du: string;
  readonly au: string;
}

const EMPTY: Criteria = { acteur: '', action: '', resultat: '', ressource: '', du: '', au: '' };

function criteriaOf(search: URLSearchParams): Criteria {
  const r = search.get('resultat') ?? '';
  return {
    acteur: search.get('acteur') ?? '',
    action: search.get('action') ?? '',
    resultat: (OUTCOMES as readonly string[]).includes(r) ? (r as Outcome) : '',
    ressource: search.get('ressource') ?? '',
    du: isDay(search.get('du')) ? (search.get('du') as string) : '',
    au: isDay(search.get('au')) ? (search.get('au') as string) : '',
  };
}

/** The API's filters (local days → instants in France's zone; `au` included). */
function apiFilters(c: Criteria, practice: string | null): Record<string, string | undefined> {
  return {
    actor: c.acteur.trim() || undefined,
    action: c.action.trim() || undefined,
    practice: practice ?? undefined,
    from: c.du ? localMidnight(c.du) : undefined,
    to: c.au ? localMidnight(dayAfter(c.au)) : undefined,
  };
}

const localFiltersOn = (c: Criteria) => c.resultat !== '' || c.ressource.trim() !== '';

function matchesLocal(c: Criteria, e: AuditEvent): boolean {
  if (c.resultat && e.outcome !== c.resultat) return false;
  const r = c.ressource.trim().toLowerCase();
  if (r && !`${e.resourceType ?? ''} ${e.resourceId ?? ''}`.toLowerCase().includes(r)) return false;
  return true;
}

const PAGE = 50;
/** With local filters, pages read at most per click, and the matches that are enough. */
const MAX_PAGES = 10;
const ENOUGH = PAGE;

async function readEvents(
  c: Criteria,
  practice: string | null,
  after: number | null,
): Promise<{ items: AuditEvent[]; next: number | null }> {
  const items: AuditEvent[] = [];
  let cursor = after;
  for (let pages = 0; ; pages++) {
    const page = await getJson<{ items: AuditEvent[]; next: number | null }>(
      `/api/v1/audit${query({ ...apiFilters(c, practice), after: cursor ?? undefined, limit: PAGE })}`,
    );
    items.push(...page.items.filter((e) => matchesLocal(c, e)));
    cursor = page.next;
    if (cursor === null || !localFiltersOn(c) || items.length >= ENOUGH || pages + 1 >= MAX_PAGES)
      return { items, next: cursor };
  }
}

function actionLabel(action: string): string {
  return (journal.actions as Readonly<Record<string, string>>)[action] ?? action;
}

function SearchForm({ value }: { value: Criteria }) {
  const [c, setC] = useState<Criteria>(value);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => setC(value), [JSON.stringify(value)]);
  const field = (k: keyof Criteria) => (e: Event) =>
    setC({ ...c, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  return (
    <form
      class="filters"
      aria-label={t('journal.recherche')}
      onSubmit={(e) => {
        e.preventDefault();
        if (c.du && c.au && c.du > c.au) return setProblem(t('journal.ordre'));
        setProblem(null);
        setSearch({ ...c });
      }}
    >
      <div class="field">
        <label for="j-acteur">{t('journal.acteur')}</label>
        <input id="j-acteur" value={c.acteur} onInput={field('acteur')} aria-describedby="j-acteur-aide" />
        <span class="help" id="j-acteur-aide">
          {t('journal.acteurAide')}
        </span>
      </div>
      <div class="field">
        <label for="j-action">{t('journal.action')}</label>
        <input
          id="j-action"
          list="j-actions"
          value={c.action}
          onInput={field('action')}
          aria-describedby="j-action-aide"
        />
        <datalist id="j-actions">
          {Object.entries(journal.actions).map(([code, label]) => (
            <option key={code} value={code}>
              {label}
            </option>
          ))}
        </datalist>
        <span class="help" id="j-action-aide">
          {t('journal.actionAide')}
        </span>
      </div>
      <div class="field">
        <label for="j-resultat">{t('journal.resultat')}</label>
        <select id="j-resultat" value={c.resultat} onChange={field('resultat')}>
          <option value="">{t('journal.tous')}</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {t(`journal.issues.${o}`)}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="j-ressource">{t('journal.ressource')}</label>
        <input
          id="j-ressource"
          value={c.ressource}
          onInput={field('ressource')}
          aria-describedby="j-ressource-aide"
        />
        <span class="help" id="j-ressource-aide">
          {t('journal.ressourceAide')}
        </span>
      </div>
      <div class="field">
        <label for="j-du">{t('journal.du')}</label>
        <input id="j-du" type="date" value={c.du} onInput={field('du')} />
      </div>
      <div class="field">
        <label for="j-au">{t('journal.au')}</label>
        <input id="j-au" type="date" value={c.au} onInput={field('au')} />
      </div>
      <button type="submit">{t('journal.rechercher')}</button>
      <button
        type="button"
        class="secondary"
        onClick={() => {
          setProblem(null);
          setSearch({ ...EMPTY });
        }}
      >
        {t('journal.effacer')}
      </button>
      {problem && (
        <p class="field-error" role="alert">
          {problem}
        </p>
      )}
    </form>
  );
}

function Results(props: { criteria: Criteria; practice: string | null; practices: readonly Practice[] }) {
  const { criteria, practice } = props;
  const [items, setItems] = useState<AuditEvent[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const key = JSON.stringify([criteria, practice]);
  const names = new Map(props.practices.map((p) => [p.id, p.name]));

  const read = (after: number | null, previous: AuditEvent[]) => {
    setBusy(true);
    setError(null);
    readEvents(criteria, practice, after).then(
      (r) => {
        setItems([...previous, ...r.items]);
        setNext(r.next);
        setBusy(false);
      },
      (e: unknown) => {
        setError(e instanceof Error ? e : new Error(String(e)));
        setBusy(false);
      },
    );
  };
  useEffect(() => {
    setItems(null);
    read(null, []);
  }, [key]);

  return (
    <section aria-labelledby="j-resultats" aria-busy={busy}>
      <h2 id="j-resultats">{t('journal.resultats')}</h2>
      {localFiltersOn(criteria) && <p class="help">{t('journal.filtreLocal')}</p>}
      {error && <ErrorBox error={error} retry={() => read(next, items ?? [])} />}
      {items === null && !error && <Loading />}
      {items?.length === 0 && <p>{t('journal.aucun')}</p>}
      {items && items.length > 0 && (
        <>
          <p role="status">
            {items.length === 1 ? t('journal.nombre1') : t('journal.nombre', { n: items.length })}
          </p>
          <table class="audit">
            <caption class="visually-hidden">{t('journal.resultats')}</caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  {t('journal.col.numero')}
                </th>
                <th scope="col">{t('journal.col.date')}</th>
                <th scope="col">{t('journal.col.acteur')}</th>
                <th scope="col">{t('journal.col.action')}</th>
                <th scope="col">{t('journal.col.ressource')}</th>
                <th scope="col">{t('journal.col.cabinet')}</th>
                <th scope="col">{t('journal.col.resultat')}</th>
                <th scope="col">{t('journal.col.details')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.seq} data-seq={e.seq} data-practice={e.practiceId ?? ''} data-action={e.action}>
                  <td class="num">{e.seq}</td>
                  <td>{formatDateTime(e.at)}</td>
                  <td>
                    <code>{e.actor}</code>
                    {e.role && <div class="sub">{roleLabel(e.role)}</div>}
                    {e.via && <div class="sub">{t('journal.via', { via: e.via })}</div>}
                  </td>
                  <td>
                    {actionLabel(e.action)}
                    <div class="sub">
                      <code>{e.action}</code>
                    </div>
                  </td>
                  <td>
                    {e.resourceType ?? '—'}
                    {e.resourceId && (
                      <div class="sub">
                        <code>{e.resourceId}</code>
                      </div>
                    )}
                  </td>
                  <td>
                    {e.practiceId ? (names.get(e.practiceId) ?? e.practiceId) : t('journal.tousCabinets')}
                  </td>
                  <td>
                    <Badge tone={OUTCOME_TONE[e.outcome]}>{t(`journal.issues.${e.outcome}`)}</Badge>
                  </td>
                  <td>
                    {Object.keys(e.details).length > 0 ? (
                      <details>
                        <summary>{t('journal.voirDetails')}</summary>
                        <pre>{JSON.stringify(e.details, null, 2)}</pre>
                      </details>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {next !== null && items !== null && (
        <button type="button" class="secondary" disabled={busy} onClick={() => read(next, items)}>
          {t('journal.suivants')}
        </button>
      )}
    </section>
  );
}

function roleLabel(role: string): string {
  return role === 'admin' || role === 'integrator' || role === 'viewer' ? t(`commun.roles.${role}`) : role;
}

function Verify() {
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await sendJson<VerifyResult>('POST', '/api/v1/audit/verify'));
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 404
          ? new Error(t('journal.verifier.indisponible'))
          : e instanceof Error
            ? e
            : new Error(String(e)),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="j-verifier" class="verify">
      <h2 id="j-verifier">{t('journal.verifier.titre')}</h2>
      <p class="intro">{t('journal.verifier.intro')}</p>
      <button type="button" onClick={() => void run()} disabled={busy}>
        {t('journal.verifier.bouton')}
      </button>
      <div role="status" aria-live="polite">
        {busy && <p>{t('journal.verifier.enCours')}</p>}
        {result?.ok && (
          <p class="notice verify-result" data-ok="true">
            <Badge tone="ok">OK</Badge>{' '}
            {result.checked === 1
              ? t('journal.verifier.ok1')
              : t('journal.verifier.ok', { n: result.checked })}
            {result.checkpoints !== undefined && result.checkpoints > 0 && (
              <>
                {' '}
                {result.checkpoints === 1
                  ? t('journal.verifier.points1')
                  : t('journal.verifier.points', { n: result.checkpoints })}
              </>
            )}
          </p>
        )}
        {result && !result.ok && (
          <div class="error-box verify-result" data-ok="false">
            <p>
              <strong>{t('journal.verifier.rompue', { seq: formatNumber(result.firstBadId ?? 0) })}</strong>
            </p>
            {result.reason && <p>{t('journal.verifier.raison', { raison: result.reason })}</p>}
          </div>
        )}
      </div>
      {error && <ErrorBox error={error} />}
    </section>
  );
}

function exportHref(c: Criteria, practice: string | null, format: 'csv' | 'json'): string {
  return `/api/v1/audit/export${query({ ...apiFilters(c, practice), format })}`;
}

/** Which practice the search is for: null = every practice (admin only), undefined = choose one. */
function practiceFor(session: Session, practiceId: string | null): string | null | undefined {
  if (practiceId !== null) return practiceId;
  return can(session, 'admin') ? null : undefined;
}

export function AuditJournal(props: PageProps) {
  const { session, practiceId, practices, setPracticeId } = useConsole();
  const criteria = criteriaOf(props.search);
  const practice = practiceFor(session, practiceId);
  return (
    <>
      <PageHeader title={t('journal.titre')} intro={t('journal.intro')} />
      {practice === undefined ? (
        <div class="practice-chooser">
          <p>{t('journal.choisirCabinet')}</p>
          <ul>
            {practices.map((p) => (
              <li key={p.id}>
                <button type="button" class="secondary" onClick={() => setPracticeId(p.id)}>
                  {t('journal.voirCabinet', { cabinet: p.name })}
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <>
          <SearchForm value={criteria} />
          <div class="page-actions">
            <a class="button" download="" href={exportHref(criteria, practice, 'csv')}>
              {t('journal.exporterCsv')}
            </a>
            <a class="button secondary" download="" href={exportHref(criteria, practice, 'json')}>
              {t('journal.exporterFhir')}
            </a>
            <span class="help">{t('journal.exporterAide')}</span>
          </div>
          {can(session, 'admin') && session.practiceId === null && <Verify />}
          <Results criteria={criteria} practice={practice} practices={practices} />
        </>
      )}
    </>
  );
}
