/**
 * Conflits et revues: what waits for a person's decision (design rule 7). Open conflicts with,
 * on demand, the base / practice / secretariat values side by side (reading them is audited by
 * the API, so they are fetched only when someone opens a conflict), resolved by side or by a
 * typed value, one or several at once; patient-match reviews; practitioner mappings. The values
 * are patient data: shown on the page, never put in the address or the browser's console.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { ApiError, forbiddenKey, getJson, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader } from '../components/common.js';
import {
  type PractitionerItem,
  practitionerLabel,
  practitionerName,
  usePractitioners,
} from '../components/practitioners.js';
import { useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { useChanges } from '../events.js';
import { formatDateTime, formatNumber, type MessageKey, t } from '../i18n/index.js';
import { BASE, setSearch } from '../router.js';
import { can } from '../session.js';
import type { PageProps } from './types.js';

/** GET /api/v1/conflicts (src/api/routes/sync.ts, ConflictSummary). */
export interface ConflictSummary {
  readonly id: string;
  readonly practiceId: string;
  readonly kind: string;
  readonly recordId: string;
  readonly paths: readonly string[];
  readonly status: 'open' | 'resolved' | 'dismissed';
  readonly reason: string | null;
  readonly resolution: Readonly<Record<string, unknown>> | null;
  readonly resolvedBy: string | null;
  readonly createdAt: string;
  readonly resolvedAt: string | null;
}

export interface ConflictField {
  readonly path: string;
  readonly base: unknown;
  readonly practice: unknown;
  readonly secretariat: unknown;
  readonly current: unknown;
}

/** GET /api/v1/conflicts/:id (ConflictDetailView). */
export interface ConflictDetail extends ConflictSummary {
  readonly fields: readonly ConflictField[];
}

/** GET /api/v1/reviews (ReviewView). */
export interface Review {
  readonly id: string;
  readonly practiceId: string;
  readonly type: string;
  readonly recordId: string | null;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly status: 'open' | 'resolved' | 'dismissed';
  readonly resolution: Readonly<Record<string, unknown>> | null;
  readonly resolvedBy: string | null;
  readonly createdAt: string;
  readonly resolvedAt: string | null;
}

/** GET /api/v1/practitioner-mappings (src/api/routes/practitioner-mappings.ts, MappingView). */
export interface PractitionerMapping {
  readonly practiceId: string;
  readonly linkId: string;
  readonly localId: string;
  readonly status: 'open' | 'mapped';
  readonly practitionerId: string | null;
  readonly proposal: Readonly<Record<string, unknown>> | null;
  readonly resolution: 'existing' | 'rpps' | 'created' | null;
  readonly resolvedBy: string | null;
  readonly held: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly resolvedAt: string | null;
}

type Side = 'practice' | 'secretariat';

/** A catalogue entry by a key built from data (a code, a path); undefined when there is none. */
function label(key: string): string | undefined {
  const text = t(key as MessageKey);
  return text === key ? undefined : text;
}

const kindLabel = (kind: string) => label(`conflits.objets.${kind}`) ?? kind;
const pathLabel = (path: string) => label(`conflits.champsNoms.${path}`);

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field's value as staff read it: dates in French time, names, phones, addresses; JSON otherwise. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined || v === '') return t('conflits.vide');
  if (typeof v === 'string') return ISO_INSTANT.test(v) ? formatDateTime(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(formatValue).join(' ; ');
  if (isRecord(v)) {
    if ('start' in v || 'end' in v) return `${formatValue(v['start'])} → ${formatValue(v['end'])}`;
    if (typeof v['value'] === 'string' && 'system' in v) return v['value'];
    if ('family' in v || 'given' in v) {
      const given = Array.isArray(v['given']) ? (v['given'] as unknown[]).join(' ') : '';
      return [v['prefix'], given, v['family']].filter((x) => typeof x === 'string' && x).join(' ');
    }
    if ('line' in v || 'city' in v) {
      const lines = Array.isArray(v['line']) ? (v['line'] as string[]) : [];
      return [...lines, [v['postalCode'], v['city']].filter(Boolean).join(' ')].filter(Boolean).join(', ');
    }
    if (isRecord(v['actor'])) {
      const actor = v['actor'];
      return String(actor['display'] ?? actor['reference'] ?? JSON.stringify(v));
    }
    if (typeof v['text'] === 'string') return v['text'];
    if (Array.isArray(v['coding'])) {
      const c = (v['coding'] as unknown[]).find(isRecord);
      if (c) return String(c['display'] ?? c['code'] ?? JSON.stringify(v));
    }
  }
  return JSON.stringify(v);
}

function messageOf(e: unknown): string {
  if (e instanceof ApiError && e.status === 403) return t(forbiddenKey(e));
  return e instanceof Error ? e.message : String(e);
}

function resolutionText(r: Readonly<Record<string, unknown>> | null): string {
  if (!r) return '';
  if (r['side'] === 'practice') return t('conflits.resolutionPar.practice');
  if (r['side'] === 'secretariat') return t('conflits.resolutionPar.secretariat');
  if ('values' in r) return t('conflits.resolutionPar.values');
  if (r['rule'] === 'ownership') return t('conflits.resolutionPar.ownership');
  return t('conflits.resolutionPar.autre');
}

function resolveConflict(id: string, body: { side: Side } | { values: Record<string, unknown> }) {
  return sendJson<ConflictSummary>('POST', `/api/v1/conflicts/${encodeURIComponent(id)}/resolve`, { body });
}

function FieldNames(props: { paths: readonly string[] }) {
  return (
    <>
      {props.paths.map((p, i) => (
        <span key={p}>
          {i > 0 && ', '}
          {pathLabel(p) ?? <code>{p}</code>}
        </span>
      ))}
    </>
  );
}

/** The values side by side: one row per field, base / practice / secretariat (and the current one). */
function ValuesTable(props: { detail: ConflictDetail }) {
  const { detail } = props;
  return (
    <table class="conflict-values">
      <caption>
        {t('conflits.valeursLegende', { objet: `${kindLabel(detail.kind)} ${detail.recordId}` })}
      </caption>
      <thead>
        <tr>
          <th scope="col">{t('conflits.champ')}</th>
          <th scope="col">{t('conflits.base')}</th>
          <th scope="col">{t('conflits.valeurCabinet')}</th>
          <th scope="col">{t('conflits.valeurSecretariat')}</th>
          {detail.status !== 'open' && <th scope="col">{t('conflits.valeurActuelle')}</th>}
        </tr>
      </thead>
      <tbody>
        {detail.fields.map((f) => (
          <tr key={f.path} data-path={f.path}>
            <th scope="row">
              {pathLabel(f.path) ?? f.path}
              {pathLabel(f.path) && (
                <>
                  {' '}
                  <code class="path">{f.path}</code>
                </>
              )}
            </th>
            <td data-side="base">{formatValue(f.base)}</td>
            <td data-side="practice">{formatValue(f.practice)}</td>
            <td data-side="secretariat">{formatValue(f.secretariat)}</td>
            {detail.status !== 'open' && <td data-side="current">{formatValue(f.current)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface Draft {
  readonly text: string;
  readonly json: boolean;
}

function draftOf(v: unknown): Draft {
  if (v === null || v === undefined) return { text: '', json: false };
  if (typeof v === 'string') return { text: v, json: false };
  return { text: JSON.stringify(v, null, 2), json: true };
}

/** Resolution by typed values: one field per path of the conflict, prefilled with the practice's value. */
function ValuesForm(props: {
  detail: ConflictDetail;
  busy: boolean;
  onSubmit: (values: Record<string, unknown>) => void;
  onCancel: () => void;
}) {
  const { detail } = props;
  const [drafts, setDrafts] = useState<Record<string, Draft>>(() =>
    Object.fromEntries(detail.fields.map((f) => [f.path, draftOf(f.practice)])),
  );
  const [error, setError] = useState<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    const values: Record<string, unknown> = {};
    for (const f of detail.fields) {
      const d = drafts[f.path] ?? { text: '', json: false };
      if (d.text.trim() === '') values[f.path] = null;
      else if (!d.json) values[f.path] = d.text;
      else {
        try {
          values[f.path] = JSON.parse(d.text) as unknown;
        } catch {
          setError(t('conflits.jsonInvalide', { champ: pathLabel(f.path) ?? f.path }));
          return;
        }
      }
    }
    setError(null);
    props.onSubmit(values);
  };
  return (
    <form class="values-form" onSubmit={submit}>
      <fieldset>
        <legend>{t('conflits.saisieTitre')}</legend>
        <p class="help">{t('conflits.saisieAide')}</p>
        {detail.fields.map((f) => {
          const fieldId = `valeur-${detail.id}-${f.path}`.replace(/[^A-Za-z0-9_-]/g, '_');
          const d = drafts[f.path] ?? { text: '', json: false };
          return (
            <div class="field" key={f.path}>
              <label for={fieldId}>{pathLabel(f.path) ?? f.path}</label>
              <textarea
                id={fieldId}
                rows={d.json ? Math.min(10, d.text.split('\n').length + 1) : 2}
                spellcheck={false}
                value={d.text}
                onInput={(e) =>
                  setDrafts({
                    ...drafts,
                    [f.path]: { ...d, text: (e.currentTarget as HTMLTextAreaElement).value },
                  })
                }
              />
            </div>
          );
        })}
      </fieldset>
      {error && (
        <p class="error-box" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="submit" disabled={props.busy}>
          {t('conflits.saisieValider')}
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          {t('commun.annuler')}
        </button>
      </div>
    </form>
  );
}

function ConflictItem(props: {
  conflict: ConflictSummary;
  practiceName: string | null;
  canResolve: boolean;
  selected: boolean;
  onSelect: (on: boolean) => void;
  onResolved: (message: string) => void;
}) {
  const c = props.conflict;
  const [shown, setShown] = useState(false);
  const [editing, setEditing] = useState(false);
  const [detail, setDetail] = useState<ConflictDetail | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const needDetail = shown || editing;
  useEffect(() => {
    if (!needDetail || detail) return;
    let live = true;
    getJson<ConflictDetail>(`/api/v1/conflicts/${encodeURIComponent(c.id)}`).then(
      (d) => live && setDetail(d),
      (e: Error) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [needDetail, detail, c.id]);
  const resolve = async (body: { side: Side } | { values: Record<string, unknown> }) => {
    setBusy(true);
    setError(null);
    try {
      await resolveConflict(c.id, body);
      props.onResolved(
        'side' in body
          ? body.side === 'practice'
            ? t('conflits.resoluCabinet')
            : t('conflits.resoluSecretariat')
          : t('conflits.resoluValeurs'),
      );
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  const headingId = `conflit-${c.id}`;
  const open = c.status === 'open';
  return (
    <li class="item conflict" aria-labelledby={headingId} data-conflict={c.id} data-record={c.recordId}>
      <div class="item-head">
        {props.canResolve && open && (
          <input
            type="checkbox"
            class="select"
            checked={props.selected}
            aria-label={t('conflits.selectionner', { id: c.id })}
            onChange={(e) => props.onSelect((e.currentTarget as HTMLInputElement).checked)}
          />
        )}
        <div>
          <h3 id={headingId}>
            {kindLabel(c.kind)} <code>{c.recordId}</code>
          </h3>
          <p class="meta">
            {props.practiceName && <span>{t('conflits.cabinetNom', { nom: props.practiceName })} · </span>}
            {open
              ? t('conflits.ouvertLe', { date: formatDateTime(c.createdAt) })
              : t('conflits.resoluLe', { date: formatDateTime(c.resolvedAt), par: c.resolvedBy ?? '—' })}
            {!open && (
              <>
                {' '}
                <Badge tone="ok">{resolutionText(c.resolution)}</Badge>
              </>
            )}
          </p>
          <p class="meta">
            {t('conflits.champs')}
            <FieldNames paths={c.paths} />
          </p>
        </div>
      </div>
      <div class="actions">
        <button
          type="button"
          class="secondary"
          aria-expanded={shown}
          aria-controls={`valeurs-${c.id}`}
          onClick={() => setShown(!shown)}
        >
          {shown ? t('conflits.masquerValeurs') : t('conflits.afficherValeurs')}
        </button>
        {props.canResolve && open && (
          <>
            <button type="button" disabled={busy} onClick={() => void resolve({ side: 'practice' })}>
              {t('conflits.garderCabinet')}
            </button>
            <button type="button" disabled={busy} onClick={() => void resolve({ side: 'secretariat' })}>
              {t('conflits.garderSecretariat')}
            </button>
            <button
              type="button"
              class="secondary"
              aria-expanded={editing}
              disabled={busy}
              onClick={() => {
                // Typing a value is done with the values in view.
                if (!editing) setShown(true);
                setEditing(!editing);
              }}
            >
              {t('conflits.saisirValeur')}
            </button>
          </>
        )}
      </div>
      {error && <ErrorBox error={error} />}
      <div id={`valeurs-${c.id}`}>
        {shown && (detail ? <ValuesTable detail={detail} /> : !error && <Loading />)}
        {editing && detail && (
          <ValuesForm
            detail={detail}
            busy={busy}
            onCancel={() => setEditing(false)}
            onSubmit={(values) => void resolve({ values })}
          />
        )}
      </div>
    </li>
  );
}

function Conflicts(props: {
  status: 'open' | 'resolved';
  canResolve: boolean;
  names: Map<string, string> | null;
}) {
  const { practiceId } = useConsole();
  const load = useLoad(
    () =>
      getJson<{ items: ConflictSummary[] }>(
        `/api/v1/conflicts${query({ practiceId, status: props.status, limit: 200 })}`,
      ),
    [practiceId, props.status],
  );
  useChanges(practiceId, ['conflicts'], load.reload);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [notices, setNotices] = useState<readonly string[]>([]);
  const [failures, setFailures] = useState<readonly string[]>([]);
  const [busy, setBusy] = useState(false);
  // A resolved item leaves the list: keyboard focus goes back to the list's title, not to the page's top.
  const title = useRef<HTMLHeadingElement>(null);
  const items = load.data?.items ?? [];
  const ids = useMemo(() => new Set(items.map((c) => c.id)), [items]);
  const chosen = [...selected].filter((id) => ids.has(id));
  const bulk = async (side: Side) => {
    setBusy(true);
    setFailures([]);
    let ok = 0;
    const failed: string[] = [];
    for (const id of chosen) {
      try {
        await resolveConflict(id, { side });
        ok++;
      } catch (e) {
        failed.push(t('conflits.echec', { id, message: messageOf(e) }));
      }
    }
    setSelected(new Set());
    setNotices([t('conflits.resultatLot', { ok, ko: failed.length })]);
    setFailures(failed);
    setBusy(false);
    title.current?.focus();
    load.reload();
  };
  const allOn = chosen.length > 0 && chosen.length === items.length;
  return (
    <section aria-labelledby="titre-conflits" class="queue">
      <h2 id="titre-conflits" tabIndex={-1} ref={title}>
        {t('conflits.conflitsTitre')} {load.data && <span class="count">({formatNumber(items.length)})</span>}
      </h2>
      <div role="status" class="notices">
        {notices.map((n) => (
          <p class="notice" key={n}>
            {n}
          </p>
        ))}
      </div>
      {failures.length > 0 && (
        <ul class="error-box" role="alert">
          {failures.map((f) => (
            <li key={f}>{f}</li>
          ))}
        </ul>
      )}
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {!load.data && !load.error && <Loading />}
      {load.data && items.length === 0 && (
        <p>{props.status === 'open' ? t('conflits.conflitsAucun') : t('conflits.conflitsAucunResolu')}</p>
      )}
      {props.canResolve && props.status === 'open' && items.length > 0 && (
        <div class="bulk" role="group" aria-label={t('conflits.selectionCompte', { n: chosen.length })}>
          <label class="check">
            <input
              type="checkbox"
              checked={allOn}
              onChange={(e) =>
                setSelected(
                  (e.currentTarget as HTMLInputElement).checked ? new Set(items.map((c) => c.id)) : new Set(),
                )
              }
            />{' '}
            {t('conflits.toutSelectionner')}
          </label>
          <span class="count">{t('conflits.selectionCompte', { n: chosen.length })}</span>
          <button type="button" disabled={busy || chosen.length === 0} onClick={() => void bulk('practice')}>
            {t('conflits.garderCabinetSelection')}
          </button>
          <button
            type="button"
            disabled={busy || chosen.length === 0}
            onClick={() => void bulk('secretariat')}
          >
            {t('conflits.garderSecretariatSelection')}
          </button>
        </div>
      )}
      {items.length > 0 && (
        <ul class="items">
          {items.map((c) => (
            <ConflictItem
              key={c.id}
              conflict={c}
              practiceName={props.names?.get(c.practiceId) ?? null}
              canResolve={props.canResolve}
              selected={selected.has(c.id)}
              onSelect={(on) => {
                const next = new Set(selected);
                if (on) next.add(c.id);
                else next.delete(c.id);
                setSelected(next);
              }}
              onResolved={(message) => {
                setNotices([message]);
                setFailures([]);
                title.current?.focus();
                load.reload();
              }}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function ReviewItem(props: {
  review: Review;
  practiceName: string | null;
  canResolve: boolean;
  onResolved: (message: string) => void;
}) {
  const r = props.review;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const candidates = strings(r.payload['candidates']);
  const linkId = typeof r.payload['linkId'] === 'string' ? r.payload['linkId'] : null;
  const resolve = async (body: { action: 'link'; patientId: string } | { action: 'create' }) => {
    setBusy(true);
    setError(null);
    try {
      await sendJson('POST', `/api/v1/reviews/${encodeURIComponent(r.id)}/resolve`, { body });
      props.onResolved(
        body.action === 'link'
          ? t('conflits.revueResolueLien', { id: body.patientId })
          : t('conflits.revueResolueCreation'),
      );
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  const headingId = `revue-${r.id}`;
  const resolution = r.resolution;
  return (
    <li class="item review" aria-labelledby={headingId} data-review={r.id}>
      <h3 id={headingId}>
        {r.type === 'patient-match' ? (
          <>
            {t('conflits.revueTitre')} <code>{r.recordId ?? '—'}</code>
          </>
        ) : (
          (label(`conflits.revueTypes.${r.type}`) ?? r.type)
        )}
      </h3>
      <p class="meta">
        {props.practiceName && <span>{t('conflits.cabinetNom', { nom: props.practiceName })} · </span>}
        {linkId && (
          <span>
            {t('conflits.revueVenantDe')}{' '}
            <a href={`${BASE}/liaisons/${encodeURIComponent(linkId)}`}>{linkId}</a> ·{' '}
          </span>
        )}
        {r.status === 'open'
          ? t('conflits.ouvertLe', { date: formatDateTime(r.createdAt) })
          : t('conflits.resoluLe', { date: formatDateTime(r.resolvedAt), par: r.resolvedBy ?? '—' })}
      </p>
      {candidates.length > 0 && (
        <p class="meta">
          {t('conflits.revueCandidats')}
          {candidates.map((id, i) => (
            <span key={id}>
              {i > 0 && ', '}
              <code>{id}</code>
            </span>
          ))}
        </p>
      )}
      {resolution && (
        <p>
          <Badge tone="ok">
            {resolution['action'] === 'link'
              ? t('conflits.revueResolueLien', { id: String(resolution['patientId'] ?? '') })
              : t('conflits.revueResolueCreation')}
          </Badge>
        </p>
      )}
      {props.canResolve && r.status === 'open' && (
        <div class="actions">
          {candidates.map((id) => (
            <button
              type="button"
              key={id}
              disabled={busy}
              onClick={() => void resolve({ action: 'link', patientId: id })}
            >
              {t('conflits.memePersonne', { id })}
            </button>
          ))}
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => void resolve({ action: 'create' })}
          >
            {t('conflits.personnesDifferentes')}
          </button>
        </div>
      )}
      {error && <ErrorBox error={error} />}
    </li>
  );
}

function Reviews(props: {
  status: 'open' | 'resolved';
  canResolve: boolean;
  names: Map<string, string> | null;
}) {
  const { practiceId } = useConsole();
  const load = useLoad(
    () =>
      getJson<{ items: Review[] }>(
        `/api/v1/reviews${query({ practiceId, status: props.status, limit: 200 })}`,
      ),
    [practiceId, props.status],
  );
  useChanges(practiceId, ['reviews'], load.reload);
  const [notice, setNotice] = useState<string | null>(null);
  const title = useRef<HTMLHeadingElement>(null);
  const items = load.data?.items ?? [];
  return (
    <section aria-labelledby="titre-revues" class="queue">
      <h2 id="titre-revues" tabIndex={-1} ref={title}>
        {t('conflits.revuesTitre')} {load.data && <span class="count">({formatNumber(items.length)})</span>}
      </h2>
      <p class="intro">{t('conflits.revuesIntro')}</p>
      <div role="status" class="notices">
        {notice && <p class="notice">{notice}</p>}
      </div>
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {!load.data && !load.error && <Loading />}
      {load.data && items.length === 0 && (
        <p>{props.status === 'open' ? t('conflits.revuesAucune') : t('conflits.revuesAucuneResolue')}</p>
      )}
      {items.length > 0 && (
        <ul class="items">
          {items.map((r) => (
            <ReviewItem
              key={r.id}
              review={r}
              practiceName={props.names?.get(r.practiceId) ?? null}
              canResolve={props.canResolve}
              onResolved={(m) => {
                setNotice(m);
                title.current?.focus();
                load.reload();
              }}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

const RPPS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.1';

/** What the link said of the practitioner: its name and RPPS (IDNPS "8" + RPPS), if it said. */
function proposalText(p: Readonly<Record<string, unknown>> | null): { name: string; rpps: string | null } {
  if (!p) return { name: '', rpps: null };
  const names = Array.isArray(p['name']) ? (p['name'] as unknown[]).filter(isRecord) : [];
  const name = names[0] ? formatValue(names[0]) : '';
  const ids = Array.isArray(p['identifier']) ? (p['identifier'] as unknown[]).filter(isRecord) : [];
  const idnps = ids.find((i) => i['system'] === RPPS_SYSTEM)?.['value'];
  const rpps = typeof idnps === 'string' && /^8\d{11}$/.test(idnps) ? idnps.slice(1) : null;
  return { name, rpps };
}

function MappingItem(props: {
  mapping: PractitionerMapping;
  known: readonly PractitionerItem[];
  practiceName: string | null;
  onResolved: (message: string) => void;
}) {
  const m = props.mapping;
  const [choice, setChoice] = useState('');
  const [rpps, setRpps] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const proposal = proposalText(m.proposal);
  const key = `${m.linkId}-${m.localId}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const resolve = async (
    body: { practitionerId: string } | { rpps: string } | { create: true; rpps?: string },
  ) => {
    setBusy(true);
    setError(null);
    try {
      const done = await sendJson<PractitionerMapping & { released: string[] }>(
        'POST',
        `/api/v1/links/${encodeURIComponent(m.linkId)}/practitioner-mappings/${encodeURIComponent(m.localId)}/resolve`,
        { body },
      );
      props.onResolved(
        `${t('conflits.associeA', { praticien: done.practitionerId ?? '—' })} ${t('conflits.liberes', { n: done.released.length })}`,
      );
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="item mapping" aria-labelledby={`praticien-${key}`} data-mapping={`${m.linkId}/${m.localId}`}>
      <h3 id={`praticien-${key}`}>{t('conflits.praticienTitre', { id: m.localId, liaison: m.linkId })}</h3>
      <p class="meta">
        {props.practiceName && <span>{t('conflits.cabinetNom', { nom: props.practiceName })} · </span>}
        {proposal.name && <span>{t('conflits.praticienPropose', { nom: proposal.name })} · </span>}
        {proposal.rpps && <span>{t('conflits.praticienRpps', { rpps: proposal.rpps })} · </span>}
        {m.status === 'open'
          ? t('conflits.ouvertLe', { date: formatDateTime(m.createdAt) })
          : t('conflits.resoluLe', { date: formatDateTime(m.resolvedAt), par: m.resolvedBy ?? '—' })}
      </p>
      {m.status === 'open' ? (
        <p>
          <Badge tone={m.held > 0 ? 'warn' : 'neutral'}>{t('conflits.rdvEnAttente', { n: m.held })}</Badge>
        </p>
      ) : (
        <p>
          <Badge tone="ok">
            {t('conflits.associeA', {
              praticien: m.practitionerId ? practitionerName(props.known, m.practitionerId) : '—',
            })}
            {m.resolution && ` (${t(`conflits.resolutions.${m.resolution}`)})`}
          </Badge>
        </p>
      )}
      {m.status === 'open' && (
        <div class="mapping-forms">
          {props.known.length > 0 && (
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                if (choice) void resolve({ practitionerId: choice });
              }}
            >
              <label for={`existant-${key}`}>{t('conflits.existant')}</label>
              <select
                id={`existant-${key}`}
                value={choice}
                onChange={(e) => setChoice((e.currentTarget as HTMLSelectElement).value)}
              >
                <option value="">{t('conflits.choisir')}</option>
                {props.known.map((k) => (
                  <option key={k.id} value={k.id}>
                    {practitionerLabel(k)}
                  </option>
                ))}
              </select>
              <button type="submit" disabled={busy || !choice}>
                {t('conflits.associer')}
              </button>
            </form>
          )}
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void resolve({ rpps: rpps.trim() });
            }}
          >
            <label for={`rpps-${key}`}>{t('conflits.rpps')}</label>
            <input
              id={`rpps-${key}`}
              inputMode="numeric"
              pattern="\d{11}"
              required
              size={12}
              value={rpps}
              onInput={(e) => setRpps((e.currentTarget as HTMLInputElement).value)}
            />
            <button type="submit" disabled={busy}>
              {t('conflits.associerRpps')}
            </button>
          </form>
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() =>
              void resolve(proposal.rpps ? { create: true, rpps: proposal.rpps } : { create: true })
            }
          >
            {t('conflits.creer')}
          </button>
        </div>
      )}
      {error && <ErrorBox error={error} />}
    </li>
  );
}

function PractitionerMappings(props: { status: 'open' | 'resolved'; names: Map<string, string> | null }) {
  const { practiceId } = useConsole();
  const status = props.status === 'open' ? 'open' : 'mapped';
  // The mappings shown; the practitioners a decision can point at come from their own list.
  const load = useLoad(
    () =>
      getJson<{ items: PractitionerMapping[] }>(
        `/api/v1/practitioner-mappings${query({ practiceId, status, limit: 200 })}`,
      ),
    [practiceId, status],
  );
  const practitioners = usePractitioners(practiceId);
  useChanges(practiceId, ['reviews', 'outbox'], load.reload);
  const [notice, setNotice] = useState<string | null>(null);
  const title = useRef<HTMLHeadingElement>(null);
  const items = load.data?.items ?? [];
  const all = practitioners.data?.items;
  return (
    <section aria-labelledby="titre-praticiens" class="queue">
      <h2 id="titre-praticiens" tabIndex={-1} ref={title}>
        {t('conflits.praticiensTitre')}{' '}
        {load.data && <span class="count">({formatNumber(items.length)})</span>}
      </h2>
      <p class="intro">{t('conflits.praticiensIntro')}</p>
      <div role="status" class="notices">
        {notice && <p class="notice">{notice}</p>}
      </div>
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {!load.data && !load.error && <Loading />}
      {load.data && items.length === 0 && (
        <p>{status === 'open' ? t('conflits.praticiensAucun') : t('conflits.praticiensAucunAssocie')}</p>
      )}
      {items.length > 0 && (
        <ul class="items">
          {items.map((m) => (
            <MappingItem
              key={`${m.linkId}/${m.localId}`}
              mapping={m}
              known={(all ?? []).filter((p) => p.practiceId === m.practiceId)}
              practiceName={props.names?.get(m.practiceId) ?? null}
              onResolved={(message) => {
                setNotice(message);
                title.current?.focus();
                load.reload();
                practitioners.reload();
              }}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

export function ConflictsPage(props: PageProps) {
  const { session, practiceId, practices } = useConsole();
  const status = props.search.get('statut') === 'resolus' ? 'resolved' : 'open';
  const canResolve = can(session, 'integrator');
  // With every practice shown, each item names its practice.
  const names = useMemo(
    () => (practiceId === null ? new Map(practices.map((p) => [p.id, p.name])) : null),
    [practiceId, practices],
  );
  return (
    <>
      <PageHeader title={t('conflits.titre')} intro={t('conflits.intro')} />
      <nav class="tabs" aria-label={t('conflits.filtre')}>
        <a
          href={`${BASE}/conflits`}
          aria-current={status === 'open' ? 'page' : undefined}
          onClick={(e) => {
            e.preventDefault();
            setSearch({ statut: null });
          }}
        >
          {t('conflits.aTraiter')}
        </a>
        <a
          href={`${BASE}/conflits?statut=resolus`}
          aria-current={status === 'resolved' ? 'page' : undefined}
          onClick={(e) => {
            e.preventDefault();
            setSearch({ statut: 'resolus' });
          }}
        >
          {t('conflits.resolus')}
        </a>
      </nav>
      <Conflicts status={status} canResolve={canResolve} names={names} />
      <Reviews status={status} canResolve={canResolve} names={names} />
      {canResolve && <PractitionerMappings status={status} names={names} />}
    </>
  );
}
