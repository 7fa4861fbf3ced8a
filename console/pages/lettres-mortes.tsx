/**
 * Lettres mortes: the changes that could not be applied or delivered (design rule 9), with their
 * reason; replayed with the current state and mapping (one, the selected ones, or every open one
 * matching the filters through the bulk route) or discarded after a confirmation. The outcome of
 * each replay is shown, also for the ones that leave the list. No payload is shown: the API
 * gives none.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { ApiError, forbiddenKey, getJson, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import { useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { useChanges } from '../events.js';
import { formatDateTime, formatNumber, type MessageKey, t } from '../i18n/index.js';
import { BASE, setSearch } from '../router.js';
import { can } from '../session.js';
import type { PageProps } from './types.js';

/** GET /api/v1/dead-letters (src/api/routes/sync.ts, DeadLetterView). */
export interface DeadLetter {
  readonly id: string;
  readonly practiceId: string | null;
  readonly linkId: string | null;
  readonly source: 'inbox' | 'outbox';
  readonly ref: string | null;
  readonly kind: string | null;
  readonly recordId: string | null;
  readonly reasonCode: string;
  readonly reason: string;
  readonly attempts: number;
  readonly status: 'open' | 'replayed' | 'discarded';
  readonly resolvedBy: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface LinkSummary {
  readonly id: string;
  readonly practiceId: string;
  readonly name: string;
}

interface Outcome {
  readonly id: string;
  readonly what: string;
  readonly outcome: string;
  readonly error?: string;
}

const STATUSES = ['open', 'replayed', 'discarded'] as const;
type Status = (typeof STATUSES)[number];

function label(key: string): string | undefined {
  const text = t(key as MessageKey);
  return text === key ? undefined : text;
}

/** The reason as staff read it: a French label for a known code, else the code and the service's message. */
function Reason(props: { d: DeadLetter }) {
  const known = label(`lettresMortes.codes.${props.d.reasonCode}`);
  return (
    <div class="dl-reason">
      <strong>{known ?? props.d.reasonCode}</strong>
      <div class="detail">
        {known && (
          <>
            <code>{props.d.reasonCode}</code>{' '}
          </>
        )}
        {props.d.reason}
      </div>
    </div>
  );
}

/** What the dead letter is about: the kind and passerelle's id of the record, when it has one. */
function what(d: DeadLetter): string {
  const kind = d.kind ? (label(`conflits.objets.${d.kind}`) ?? d.kind) : '';
  return [kind, d.recordId].filter(Boolean).join(' ') || t('lettresMortes.message');
}

/** The same, told apart from the others in the outcomes list. */
function named(d: DeadLetter): string {
  return d.recordId ? what(d) : t('lettresMortes.nomme', { objet: what(d), id: d.id.slice(0, 8) });
}

function outcomeText(o: Outcome): string {
  const text =
    o.outcome === 'error'
      ? t('lettresMortes.issues.error', { code: o.error ?? '' })
      : (label(`lettresMortes.issues.${o.outcome}`) ?? o.outcome);
  return t('lettresMortes.resultat', { objet: o.what, resultat: text });
}

const OUTCOME_TONE: Record<string, Tone> = {
  requeued: 'ok',
  applied: 'ok',
  'already-replayed': 'neutral',
  duplicate: 'neutral',
  stored: 'ok',
  discarded: 'neutral',
};

function errorCode(e: unknown): string {
  if (e instanceof ApiError) return e.status === 403 ? t(forbiddenKey(e)) : `${e.code} — ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function Row(props: {
  d: DeadLetter;
  canAct: boolean;
  selected: boolean;
  busy: boolean;
  practiceName: string | null;
  linkName: string | null;
  onSelect: (on: boolean) => void;
  onReplay: () => void;
  onDiscard: () => void;
}) {
  const { d } = props;
  const [confirming, setConfirming] = useState(false);
  const open = d.status === 'open';
  return (
    <tr data-dead-letter={d.id} data-record={d.recordId ?? ''}>
      {props.canAct && (
        <td>
          {open && (
            <input
              type="checkbox"
              checked={props.selected}
              aria-label={t('lettresMortes.selectionner', { id: d.id })}
              onChange={(e) => props.onSelect((e.currentTarget as HTMLInputElement).checked)}
            />
          )}
        </td>
      )}
      <td>
        <Reason d={d} />
      </td>
      <td>
        {what(d)}
        {props.practiceName && <div class="detail">{props.practiceName}</div>}
      </td>
      <td>
        {d.linkId ? (
          <a href={`${BASE}/liaisons/${encodeURIComponent(d.linkId)}`}>{props.linkName ?? d.linkId}</a>
        ) : (
          '—'
        )}
        <div class="detail">{t(`lettresMortes.sensValeurs.${d.source}`)}</div>
      </td>
      <td>
        {formatDateTime(d.createdAt)}
        {!open && (
          <div class="detail">
            {t(`lettresMortes.statuts.${d.status}`)} {formatDateTime(d.updatedAt)}
            {d.resolvedBy && ` ${t('lettresMortes.par', { qui: d.resolvedBy })}`}
          </div>
        )}
      </td>
      <td class="num">{formatNumber(d.attempts)}</td>
      {props.canAct && (
        <td class="row-actions">
          {open &&
            (confirming ? (
              <div class="confirm" role="group" aria-label={t('lettresMortes.ecarterLibelle', { id: d.id })}>
                <p>{t('lettresMortes.confirmerEcart')}</p>
                <button
                  type="button"
                  class="danger"
                  disabled={props.busy}
                  onClick={() => {
                    setConfirming(false);
                    props.onDiscard();
                  }}
                >
                  {t('lettresMortes.confirmer')}
                </button>{' '}
                <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                  {t('commun.annuler')}
                </button>
              </div>
            ) : (
              <>
                <button
                  type="button"
                  disabled={props.busy}
                  aria-label={t('lettresMortes.rejouerLibelle', { id: d.id })}
                  onClick={props.onReplay}
                >
                  {t('lettresMortes.rejouer')}
                </button>{' '}
                <button
                  type="button"
                  class="secondary"
                  disabled={props.busy}
                  aria-label={t('lettresMortes.ecarterLibelle', { id: d.id })}
                  onClick={() => setConfirming(true)}
                >
                  {t('lettresMortes.ecarter')}
                </button>
              </>
            ))}
        </td>
      )}
    </tr>
  );
}

export function DeadLettersPage(props: PageProps) {
  const { session, practiceId, practices } = useConsole();
  const canAct = can(session, 'integrator');
  const rawStatus = props.search.get('statut');
  const status: Status = (STATUSES as readonly string[]).includes(rawStatus ?? '')
    ? (rawStatus as Status)
    : 'open';
  const linkId = props.search.get('liaison') ?? '';
  const reasonCode = props.search.get('raison') ?? '';

  const load = useLoad(
    () =>
      getJson<{ items: DeadLetter[] }>(
        `/api/v1/dead-letters${query({ practiceId, status, linkId: linkId || undefined, limit: 500 })}`,
      ),
    [practiceId, status, linkId],
  );
  const links = useLoad(
    () => getJson<{ items: LinkSummary[] }>(`/api/v1/links${query({ practiceId })}`),
    [practiceId],
  );
  useChanges(practiceId, ['deadLetters'], load.reload);

  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [outcomes, setOutcomes] = useState<readonly Outcome[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  // A replayed or discarded row leaves the table: keyboard focus goes to the outcomes instead.
  const resultsTitle = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (outcomes.length > 0) resultsTitle.current?.focus();
  }, [outcomes]);

  const all = load.data?.items ?? [];
  const items = reasonCode ? all.filter((d) => d.reasonCode === reasonCode) : all;
  const codes = useMemo(
    () => [...new Set([...all.map((d) => d.reasonCode), ...(reasonCode ? [reasonCode] : [])])].sort(),
    [all, reasonCode],
  );
  const names = useMemo(
    () => (practiceId === null ? new Map(practices.map((p) => [p.id, p.name])) : null),
    [practiceId, practices],
  );
  const openIds = new Set(items.filter((d) => d.status === 'open').map((d) => d.id));
  const chosen = [...selected].filter((id) => openIds.has(id));
  const byId = new Map(all.map((d) => [d.id, d]));

  const run = async (action: () => Promise<Outcome[]>) => {
    setBusy(true);
    setError(null);
    try {
      setOutcomes(await action());
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
      load.reload();
    }
  };
  const replayOne = async (d: DeadLetter): Promise<Outcome> => {
    try {
      const r = await sendJson<{ outcome: string }>(
        'POST',
        `/api/v1/dead-letters/${encodeURIComponent(d.id)}/replay`,
      );
      return { id: d.id, what: named(d), outcome: r.outcome };
    } catch (e) {
      return { id: d.id, what: named(d), outcome: 'error', error: errorCode(e) };
    }
  };
  const replaySelected = () =>
    run(async () => {
      const out: Outcome[] = [];
      for (const id of chosen) {
        const d = byId.get(id);
        if (d) out.push(await replayOne(d));
      }
      setSelected(new Set());
      return out;
    });
  const replayAll = () =>
    run(async () => {
      const r = await sendJson<{ items: { id: string; outcome: string; error?: string }[] }>(
        'POST',
        '/api/v1/dead-letters/replay',
        {
          body: {
            ...(practiceId && { practiceId }),
            ...(linkId && { linkId }),
            ...(reasonCode && { reasonCode }),
            limit: 1000,
          },
        },
      );
      setSelected(new Set());
      return r.items.map((i) => {
        const d = byId.get(i.id);
        return {
          id: i.id,
          what: d ? named(d) : i.id,
          outcome: i.outcome,
          ...(i.error !== undefined && { error: i.error }),
        };
      });
    });
  const discard = (d: DeadLetter) =>
    run(async () => {
      try {
        await sendJson('POST', `/api/v1/dead-letters/${encodeURIComponent(d.id)}/discard`);
        return [{ id: d.id, what: named(d), outcome: 'discarded' }];
      } catch (e) {
        return [{ id: d.id, what: named(d), outcome: 'error', error: errorCode(e) }];
      }
    });

  const allOn = chosen.length > 0 && chosen.length === openIds.size;
  const linkOptions = links.data?.items ?? [];
  return (
    <>
      <PageHeader title={t('lettresMortes.titre')} intro={t('lettresMortes.intro')} />
      <form class="filters" aria-label={t('lettresMortes.filtres')} onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="lm-statut">{t('lettresMortes.statut')}</label>
          <select
            id="lm-statut"
            value={status}
            onChange={(e) => {
              const v = (e.currentTarget as HTMLSelectElement).value;
              setSearch({ statut: v === 'open' ? null : v });
            }}
          >
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`lettresMortes.statuts.${s}`)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="lm-liaison">{t('lettresMortes.liaison')}</label>
          <select
            id="lm-liaison"
            value={linkId}
            onChange={(e) => setSearch({ liaison: (e.currentTarget as HTMLSelectElement).value || null })}
          >
            <option value="">{t('lettresMortes.toutesLiaisons')}</option>
            {linkOptions.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name} ({l.id})
              </option>
            ))}
            {linkId && !linkOptions.some((l) => l.id === linkId) && <option value={linkId}>{linkId}</option>}
          </select>
        </div>
        <div class="field">
          <label for="lm-raison">{t('lettresMortes.raison')}</label>
          <select
            id="lm-raison"
            value={reasonCode}
            onChange={(e) => setSearch({ raison: (e.currentTarget as HTMLSelectElement).value || null })}
          >
            <option value="">{t('lettresMortes.toutesRaisons')}</option>
            {codes.map((c) => (
              <option key={c} value={c}>
                {label(`lettresMortes.codes.${c}`) ?? c}
              </option>
            ))}
          </select>
        </div>
      </form>

      <div role="status" class="notices">
        {outcomes.length > 0 && (
          <section class="results" aria-labelledby="lm-resultats">
            <h2 id="lm-resultats" tabIndex={-1} ref={resultsTitle}>
              {t('lettresMortes.resultats')}
            </h2>
            <ul>
              {outcomes.map((o) => (
                <li key={o.id} data-outcome={o.outcome} data-dead-letter={o.id}>
                  <Badge
                    tone={
                      o.outcome === 'error' || o.outcome === 'invalid'
                        ? 'bad'
                        : (OUTCOME_TONE[o.outcome] ?? 'warn')
                    }
                  >
                    {outcomeText(o)}
                  </Badge>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
      {error && <ErrorBox error={error} />}
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}

      {canAct && status === 'open' && items.length > 0 && (
        <div class="bulk" role="group" aria-label={t('lettresMortes.selectionCompte', { n: chosen.length })}>
          <span class="count">{t('lettresMortes.selectionCompte', { n: chosen.length })}</span>
          <button type="button" disabled={busy || chosen.length === 0} onClick={() => void replaySelected()}>
            {t('lettresMortes.rejouerSelection')}
          </button>
          <button
            type="button"
            class="secondary"
            disabled={busy}
            aria-describedby="lm-tout-aide"
            onClick={() => void replayAll()}
          >
            {t('lettresMortes.rejouerTout')}
          </button>
          <span id="lm-tout-aide" class="help">
            {t('lettresMortes.rejouerToutAide')}
          </span>
        </div>
      )}

      {!load.data && !load.error && <Loading />}
      {load.data && items.length === 0 && <p>{t('lettresMortes.aucune')}</p>}
      {items.length > 0 && (
        <table class="dead-letters">
          <caption>{t('lettresMortes.tableau', { statut: t(`lettresMortes.statuts.${status}`) })}</caption>
          <thead>
            <tr>
              {canAct && (
                <th scope="col">
                  {status === 'open' ? (
                    <input
                      type="checkbox"
                      checked={allOn}
                      aria-label={t('lettresMortes.toutSelectionner')}
                      onChange={(e) =>
                        setSelected(
                          (e.currentTarget as HTMLInputElement).checked ? new Set(openIds) : new Set(),
                        )
                      }
                    />
                  ) : (
                    <span class="visually-hidden">{t('lettresMortes.selection')}</span>
                  )}
                </th>
              )}
              <th scope="col">{t('lettresMortes.raison')}</th>
              <th scope="col">{t('lettresMortes.objet')}</th>
              <th scope="col">{t('lettresMortes.liaison')}</th>
              <th scope="col">{t('lettresMortes.date')}</th>
              <th scope="col" class="num">
                {t('lettresMortes.tentatives')}
              </th>
              {canAct && <th scope="col">{t('lettresMortes.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <Row
                key={d.id}
                d={d}
                canAct={canAct}
                busy={busy}
                selected={selected.has(d.id)}
                practiceName={names && d.practiceId ? (names.get(d.practiceId) ?? null) : null}
                linkName={linkOptions.find((l) => l.id === d.linkId)?.name ?? null}
                onSelect={(on) => {
                  const next = new Set(selected);
                  if (on) next.add(d.id);
                  else next.delete(d.id);
                  setSelected(next);
                }}
                onReplay={() => void run(async () => [await replayOne(d)])}
                onDiscard={() => void discard(d)}
              />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
