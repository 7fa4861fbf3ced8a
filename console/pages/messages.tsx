/**
 * The message browser (issue 19 point 3): a link's messages with filters kept in the address
 * (GET /api/v1/links/:id/messages, src/api/routes/messages.ts), and one message's whole path —
 * metadata, HL7 segment tree, what the mapping makes of it, what it left, the answer sent —
 * with « Rejouer » and « Essai à blanc » for integrators.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

import { getJson, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import { Hl7Tree, type Hl7TreeSegment } from '../components/hl7-tree.js';
import { LinkSelect, useLinks } from '../components/link-choice.js';
import { type DryRunResult, hl7Lines, MappingResult } from '../components/mapping-result.js';
import { useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { useChanges } from '../events.js';
import { formatDateTime, t } from '../i18n/index.js';
import { BASE, setSearch } from '../router.js';
import { can } from '../session.js';
import type { PageProps } from './types.js';

export const OUTCOMES = ['pending', 'applied', 'applied-with-warnings', 'rejected', 'dead-letter'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** MessageSummary of src/sync/messages.ts. */
export interface MessageSummary {
  readonly id: string;
  readonly direction: 'inbound' | 'outbound';
  readonly linkId: string;
  readonly messageType: string;
  readonly controlId: string;
  readonly outcome: Outcome;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly flags: readonly string[];
  readonly at: string;
  readonly processedAt: string | null;
}

/** MessageDetail of src/sync/messages.ts. */
export interface MessageDetail {
  readonly message: MessageSummary & { readonly practiceId: string };
  readonly header: Readonly<Record<string, string | undefined>> | null;
  readonly raw?: { readonly text: string | null; readonly base64: string } | null;
  readonly bodyKept: boolean;
  readonly tree: readonly Hl7TreeSegment[] | null;
  readonly mapping: MessageMapping | null;
  readonly written: {
    readonly deadLetters: readonly {
      id: string;
      status: string;
      reasonCode: string;
      reason: string;
      createdAt: string;
    }[];
    readonly records?: readonly {
      kind: string;
      externalId: string;
      canonicalId: string | null;
      version: number | null;
      updatedAt: string | null;
    }[];
    readonly record?: {
      readonly kind: string;
      readonly id: string;
      readonly op: string;
      readonly attempts: number;
      readonly result: unknown;
    };
  };
  readonly ack: {
    readonly messages: readonly { readonly text: string; readonly code: string | undefined }[];
    readonly sentAt: string | null;
  } | null;
  readonly applicationAck: { readonly requested: string; readonly note: string } | null;
}

export interface MessageMapping {
  readonly profile: {
    readonly name: string;
    readonly hash: string;
    readonly source: 'custom' | 'shipped' | 'request';
    readonly version: number | null;
  };
  readonly result: DryRunResult | null;
  readonly unavailable?: { readonly code: string; readonly message: string };
}

export const OUTCOME_TONE: Record<Outcome, Tone> = {
  pending: 'neutral',
  applied: 'ok',
  'applied-with-warnings': 'warn',
  rejected: 'bad',
  'dead-letter': 'bad',
};

export function OutcomeBadge(props: { outcome: Outcome }) {
  return <Badge tone={OUTCOME_TONE[props.outcome]}>{t(`messages.resultats.${props.outcome}`)}</Badge>;
}

/** `2026-12-07T10:00` (a datetime-local field, the browser's zone) → ISO-8601 UTC, or undefined. */
function isoOf(local: string | null): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The filters, as the address holds them (French parameter names) and the API wants them. */
const FILTERS = ['sens', 'type', 'resultat', 'controle', 'patient', 'du', 'au'] as const;
type FilterName = (typeof FILTERS)[number];

function apiQuery(search: URLSearchParams) {
  return query({
    direction: search.get('sens'),
    type: search.get('type'),
    outcome: search.get('resultat'),
    controlId: search.get('controle'),
    patient: search.get('patient'),
    since: isoOf(search.get('du')),
    until: isoOf(search.get('au')),
    before: search.get('avant'),
    limit: 50,
  });
}

function Filters(props: { search: URLSearchParams }) {
  const initial = () =>
    Object.fromEntries(FILTERS.map((f) => [f, props.search.get(f) ?? ''])) as Record<FilterName, string>;
  const [values, setValues] = useState(initial);
  const key = FILTERS.map((f) => props.search.get(f) ?? '').join('|');
  // Back/forward or a link changes the address: the form follows it.
  useEffect(() => setValues(initial()), [key]);
  const set = (name: FilterName) => (e: Event) =>
    setValues((v) => ({ ...v, [name]: (e.target as HTMLInputElement | HTMLSelectElement).value }));
  const submit = (e: Event) => {
    e.preventDefault();
    setSearch({ ...values, avant: null });
  };
  const reset = () => setSearch({ ...Object.fromEntries(FILTERS.map((f) => [f, null])), avant: null });
  return (
    <form class="filters" onSubmit={submit} aria-label={t('messages.filtres')}>
      <div class="field">
        <label for="f-sens">{t('messages.sens')}</label>
        <select id="f-sens" value={values.sens || 'inbound'} onChange={set('sens')}>
          <option value="inbound">{t('messages.sensValeurs.inbound')}</option>
          <option value="outbound">{t('messages.sensValeurs.outbound')}</option>
        </select>
      </div>
      <div class="field">
        <label for="f-type">{t('messages.type')}</label>
        <input
          id="f-type"
          value={values.type}
          onInput={set('type')}
          aria-describedby="f-type-aide"
          size={14}
        />
        <span id="f-type-aide" class="help">
          {t('messages.typeAide')}
        </span>
      </div>
      <div class="field">
        <label for="f-resultat">{t('messages.resultat')}</label>
        <select id="f-resultat" value={values.resultat} onChange={set('resultat')}>
          <option value="">{t('messages.tous')}</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {t(`messages.resultats.${o}`)}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="f-controle">{t('messages.controle')}</label>
        <input id="f-controle" value={values.controle} onInput={set('controle')} size={16} />
      </div>
      <div class="field">
        <label for="f-patient">{t('messages.patient')}</label>
        <input id="f-patient" value={values.patient} onInput={set('patient')} size={16} />
      </div>
      <div class="field">
        <label for="f-du">{t('messages.du')}</label>
        <input id="f-du" type="datetime-local" value={values.du} onInput={set('du')} />
      </div>
      <div class="field">
        <label for="f-au">{t('messages.au')}</label>
        <input id="f-au" type="datetime-local" value={values.au} onInput={set('au')} />
      </div>
      <div class="field">
        <button type="submit">{t('messages.filtrer')}</button>
      </div>
      <div class="field">
        <button type="button" class="secondary" onClick={reset}>
          {t('messages.effacer')}
        </button>
      </div>
    </form>
  );
}

export function Messages(props: PageProps) {
  const { search } = props;
  const { practiceId } = useConsole();
  const links = useLinks();
  const items = links.data?.items ?? [];
  const chosen = search.get('liaison');
  const fallback = items.find((l) => l.role === 'practice') ?? items[0];
  const linkId = chosen ?? fallback?.id ?? null;
  // Another practice in the header: its links, not the previous one's.
  const firstPractice = useRef(practiceId);
  useEffect(() => {
    if (firstPractice.current !== practiceId) setSearch({ liaison: null, avant: null });
    firstPractice.current = practiceId;
  }, [practiceId]);
  const q = apiQuery(search);
  const list = useLoad(
    () =>
      linkId
        ? getJson<{ items: MessageSummary[]; next: string | null }>(
            `/api/v1/links/${encodeURIComponent(linkId)}/messages${q}`,
          )
        : Promise.resolve(undefined),
    [linkId, q],
  );
  // New messages appear by themselves on the first page; an older page stays as it is.
  useChanges(practiceId, ['messages'], () => {
    if (!search.get('avant')) list.reload();
  });
  const outbound = search.get('sens') === 'outbound';
  const linkName = items.find((l) => l.id === linkId)?.name ?? linkId ?? '';
  return (
    <>
      <PageHeader title={t('messages.titre')} intro={t('messages.intro')} />
      {links.error && <ErrorBox error={links.error} retry={links.reload} />}
      {links.data && items.length === 0 && !chosen && <p>{t('messages.aucuneLiaison')}</p>}
      {items.length > 0 && (
        <LinkSelect
          id="liaison"
          label={t('messages.liaison')}
          links={items}
          value={linkId ?? ''}
          onChange={(id) => setSearch({ liaison: id, avant: null })}
        />
      )}
      {linkId && <Filters search={search} />}
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {linkId && !list.data && !list.error && <Loading />}
      {list.data && (
        <>
          <table class="messages">
            <caption>{t('messages.tableau', { liaison: linkName })}</caption>
            <thead>
              <tr>
                <th scope="col">{outbound ? t('messages.creeLe') : t('messages.recuLe')}</th>
                <th scope="col">{t('messages.message')}</th>
                <th scope="col">{t('messages.type')}</th>
                <th scope="col">{t('messages.controle')}</th>
                <th scope="col">{t('messages.resultat')}</th>
                <th scope="col">{t('messages.erreur')}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((m) => (
                <tr
                  key={m.id}
                  data-message={m.id}
                  class={OUTCOME_TONE[m.outcome] === 'bad' ? 'attention' : undefined}
                >
                  <td>{formatDateTime(m.at)}</td>
                  <td>
                    <a
                      href={`${BASE}/messages/${encodeURIComponent(m.id)}`}
                      aria-label={t('messages.ouvrir', { id: m.id })}
                    >
                      {m.id}
                    </a>
                  </td>
                  <td>
                    <code>{m.messageType}</code>
                  </td>
                  <td>
                    <code>{m.controlId}</code>
                  </td>
                  <td>
                    <OutcomeBadge outcome={m.outcome} />
                  </td>
                  <td>{m.error ? `${m.error}${m.errorCode ? ` (${m.errorCode})` : ''}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.items.length === 0 && <p>{t('messages.aucunMessage')}</p>}
          <div class="page-actions">
            {search.get('avant') && (
              <button type="button" class="secondary" onClick={() => setSearch({ avant: null })}>
                {t('messages.plusRecents')}
              </button>
            )}
            {list.data.next && (
              <button type="button" class="secondary" onClick={() => setSearch({ avant: list.data?.next })}>
                {t('messages.plusAnciens')}
              </button>
            )}
          </div>
        </>
      )}
    </>
  );
}

// ——— One message ———

function AckNote(props: { requested: string; outcome: Outcome }) {
  if (props.requested === 'NE' || props.requested === '')
    return (
      <p>
        {props.outcome === 'dead-letter' || props.outcome === 'rejected'
          ? t('messages.accuseAucunEchec')
          : t('messages.accuseAucunDemande')}
      </p>
    );
  return (
    <p>
      {t('messages.accuseApplicatif', { code: props.requested })} — {t('messages.accuseApresApplication')}
    </p>
  );
}

function Metadata({ d }: { d: MessageDetail }) {
  const m = d.message;
  const h = d.header;
  return (
    <dl class="props">
      <dt>{t('messages.liaison')}</dt>
      <dd>
        <code>{m.linkId}</code>
      </dd>
      <dt>{t('messages.direction')}</dt>
      <dd>{t(`messages.directions.${m.direction}`)}</dd>
      <dt>{t('messages.type')}</dt>
      <dd>
        <code>{m.messageType}</code>
      </dd>
      <dt>{t('messages.controle')}</dt>
      <dd>
        <code>{m.controlId}</code>
      </dd>
      <dt>{t('messages.resultat')}</dt>
      <dd>
        <OutcomeBadge outcome={m.outcome} />
      </dd>
      {(m.error || m.errorCode) && (
        <>
          <dt>{t('messages.erreur')}</dt>
          <dd>
            {m.error} {m.errorCode && <code>({m.errorCode})</code>}
          </dd>
        </>
      )}
      <dt>{t('messages.signalements')}</dt>
      <dd>
        {m.flags.length === 0
          ? t('messages.aucunSignalement')
          : m.flags.map((f) => (
              <span key={f}>
                <Badge tone="warn">{f}</Badge>{' '}
              </span>
            ))}
      </dd>
      <dt>{m.direction === 'outbound' ? t('messages.creeLe') : t('messages.recu')}</dt>
      <dd>{formatDateTime(m.at)}</dd>
      <dt>{t('messages.traite')}</dt>
      <dd>{m.processedAt ? formatDateTime(m.processedAt) : t('messages.nonTraite')}</dd>
      {h && (
        <>
          <dt>{t('messages.emetteur')}</dt>
          <dd>{h['sendingApplication'] ?? '—'}</dd>
          <dt>{t('messages.etablissement')}</dt>
          <dd>{h['sendingFacility'] ?? '—'}</dd>
          <dt>{t('messages.versionHl7')}</dt>
          <dd>{h['version'] ?? '—'}</dd>
          <dt>{t('messages.horodatage')}</dt>
          <dd>
            <code>{h['timestamp'] ?? '—'}</code>
          </dd>
          <dt>{t('messages.traitement')}</dt>
          <dd>{h['processingId'] ?? '—'}</dd>
          <dt>{t('messages.jeuCaracteres')}</dt>
          <dd>{h['charset'] ?? '—'}</dd>
          <dt>{t('messages.accuseDemande')}</dt>
          <dd>
            {h['acceptAckType'] ?? '—'} / {h['applicationAckType'] ?? '—'}
          </dd>
        </>
      )}
    </dl>
  );
}

function Written({ d }: { d: MessageDetail }) {
  const w = d.written;
  return (
    <>
      {w.records && (
        <>
          <p class="help">{t('messages.ecritIntro')}</p>
          {w.records.length === 0 ? (
            <p>{t('messages.aucunEnregistrement')}</p>
          ) : (
            <table>
              <caption>{t('messages.enregistrements')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('messages.genre')}</th>
                  <th scope="col">{t('messages.idLiaison')}</th>
                  <th scope="col">{t('messages.idCanonique')}</th>
                  <th scope="col" class="num">
                    {t('messages.version')}
                  </th>
                  <th scope="col">{t('messages.modifieLe')}</th>
                </tr>
              </thead>
              <tbody>
                {w.records.map((r) => (
                  <tr key={`${r.kind}-${r.externalId}`}>
                    <td>{r.kind}</td>
                    <td>
                      <code>{r.externalId}</code>
                    </td>
                    <td>{r.canonicalId ? <code>{r.canonicalId}</code> : t('messages.nonEnregistre')}</td>
                    <td class="num">{r.version ?? '—'}</td>
                    <td>{formatDateTime(r.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      {w.record && (
        <>
          <h3>{t('messages.ecritSortant')}</h3>
          <dl class="props">
            <dt>{t('messages.genre')}</dt>
            <dd>{w.record.kind}</dd>
            <dt>{t('messages.idCanonique')}</dt>
            <dd>
              <code>{w.record.id}</code>
            </dd>
            <dt>{t('messages.operation')}</dt>
            <dd>{w.record.op}</dd>
            <dt>{t('messages.tentatives')}</dt>
            <dd>{w.record.attempts}</dd>
          </dl>
          {w.record.result !== null && w.record.result !== undefined && (
            <details>
              <summary>{t('messages.reponsePair')}</summary>
              <pre tabIndex={0}>{JSON.stringify(w.record.result, null, 2)}</pre>
            </details>
          )}
        </>
      )}
      <h3>{t('messages.lettresMortes')}</h3>
      {w.deadLetters.length === 0 ? (
        <p>{t('messages.aucuneLettreMorte')}</p>
      ) : (
        <ul>
          {w.deadLetters.map((l) => (
            <li key={l.id}>
              <a href={`${BASE}/lettres-mortes?id=${encodeURIComponent(l.id)}`}>{l.id}</a> — {l.status} —{' '}
              {formatDateTime(l.createdAt)} — {l.reason} <code>({l.reasonCode})</code>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function Ack({ d }: { d: MessageDetail }) {
  return (
    <>
      {!d.ack ? (
        <p>{t('messages.aucunAccuse')}</p>
      ) : (
        <>
          <p>{t('messages.accuseEnvoyeLe', { date: formatDateTime(d.ack.sentAt) })}</p>
          {d.ack.messages.map((a, i) => (
            <div key={i} class="ack">
              {a.code && (
                <p>
                  <Badge tone={a.code === 'AA' || a.code === 'CA' ? 'ok' : 'bad'}>
                    {t('messages.accuseCode', { n: i + 1, code: a.code })}
                  </Badge>{' '}
                  {t(`messages.accuseCodes.${a.code}` as 'messages.accuseCodes.AA')}
                </p>
              )}
              <pre tabIndex={0} aria-label={t('messages.accuse')}>
                {hl7Lines(a.text)}
              </pre>
            </div>
          ))}
        </>
      )}
      {d.applicationAck && <AckNote requested={d.applicationAck.requested} outcome={d.message.outcome} />}
    </>
  );
}

/** « Rejouer », confirmed inline (the question and its two buttons replace the button). */
function Replay(props: { id: string; onDone: () => void }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const askRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  const replay = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await sendJson<{ outcome: string }>(
        'POST',
        `/api/v1/messages/${encodeURIComponent(props.id)}/replay`,
      );
      const label = t(`messages.rejeuResultats.${r.outcome}` as 'messages.rejeuResultats.applied');
      setDone(t('messages.rejeuFait', { resultat: label.startsWith('messages.') ? r.outcome : label }));
      props.onDone();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  return (
    <div class="action">
      <p class="help">{t('messages.rejouerAide')}</p>
      {!asking ? (
        <button type="button" ref={askRef} onClick={() => setAsking(true)}>
          {t('messages.rejouer')}
        </button>
      ) : (
        <div class="confirm-inline" role="group" aria-labelledby="rejouer-question">
          <p id="rejouer-question">{t('messages.rejouerConfirmer', { id: props.id })}</p>
          <button type="button" ref={confirmRef} onClick={replay} disabled={busy}>
            {t('messages.confirmerRejeu')}
          </button>{' '}
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setAsking(false);
              setTimeout(() => askRef.current?.focus(), 0);
            }}
          >
            {t('commun.annuler')}
          </button>
        </div>
      )}
      {done && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      {error && <ErrorBox error={error} />}
    </div>
  );
}

/** « Essai à blanc »: the message mapped with a draft profile (the link's active one to start from). */
function DryRun(props: { id: string; linkId: string }) {
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<MessageMapping | null>(null);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    if (!open || draft !== null) return;
    getJson<{ active: { yaml: string } }>(`/api/v1/links/${encodeURIComponent(props.linkId)}/mapping`).then(
      (m) => setDraft(m.active.yaml),
      (e: Error) => {
        setDraft('');
        setError(e);
      },
    );
  }, [open]);
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const r = await sendJson<{ mapping: MessageMapping | null }>(
        'POST',
        `/api/v1/messages/${encodeURIComponent(props.id)}/dry-run`,
        { body: { profile: draft ?? '' } },
      );
      setResult(r.mapping);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details class="action" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>{t('messages.essai')}</summary>
      <p class="help">{t('messages.essaiAide')}</p>
      {open && draft === null && <Loading />}
      {draft !== null && (
        <form onSubmit={run}>
          <div class="field wide">
            <label for="brouillon">{t('messages.brouillon')}</label>
            <textarea
              id="brouillon"
              class="code"
              rows={16}
              spellcheck={false}
              value={draft}
              onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
            />
          </div>
          <button type="submit" disabled={busy || !draft}>
            {t('messages.lancerEssai')}
          </button>
        </form>
      )}
      {error && <ErrorBox error={error} />}
      {result && (
        <section aria-labelledby="resultat-essai">
          <h3 id="resultat-essai">{t('messages.resultatEssai')}</h3>
          <MappingResult
            idPrefix="essai"
            profile={result.profile}
            result={result.result}
            unavailable={result.unavailable}
          />
        </section>
      )}
    </details>
  );
}

export function MessagePage(props: PageProps) {
  const id = props.params['id'] ?? '';
  const { session } = useConsole();
  const load = useLoad(() => getJson<MessageDetail>(`/api/v1/messages/${encodeURIComponent(id)}`), [id]);
  const d = load.data;
  const integrator = can(session, 'integrator');
  const back = d
    ? `${BASE}/messages?liaison=${encodeURIComponent(d.message.linkId)}${d.message.direction === 'outbound' ? '&sens=outbound' : ''}`
    : `${BASE}/messages`;
  return (
    <>
      <PageHeader title={t('messages.titreDetail', { id })}>
        <a href={back}>{t('messages.retourListe')}</a>
      </PageHeader>
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {!d && !load.error && <Loading />}
      {d && (
        <>
          <section aria-labelledby="h-meta">
            <h2 id="h-meta">{t('messages.metadonnees')}</h2>
            <Metadata d={d} />
            {!d.bodyKept && <p class="notice">{t('messages.corpsPurge')}</p>}
          </section>
          {integrator && (
            <section aria-labelledby="h-actions">
              <h2 id="h-actions">{t('messages.actions')}</h2>
              <Replay id={d.message.id} onDone={load.reload} />
              {d.message.direction === 'inbound' && d.bodyKept && d.mapping && (
                <DryRun id={d.message.id} linkId={d.message.linkId} />
              )}
            </section>
          )}
          {d.message.direction === 'inbound' && (
            <section aria-labelledby="h-arbre">
              <h2 id="h-arbre">{t('messages.arbre')}</h2>
              {d.tree ? (
                <>
                  <p class="help">{t('messages.arbreIntro')}</p>
                  <Hl7Tree segments={d.tree} />
                </>
              ) : (
                <p>{t('messages.pasHl7')}</p>
              )}
            </section>
          )}
          {d.raw && d.raw.text !== null && (
            <details class="raw">
              <summary>{t('messages.brut')}</summary>
              <p class="help">{t('messages.brutAide')}</p>
              <pre tabIndex={0} aria-label={t('messages.brut')}>
                {hl7Lines(d.raw.text)}
              </pre>
            </details>
          )}
          {d.mapping && (
            <section aria-labelledby="h-correspondance">
              <h2 id="h-correspondance">{t('messages.correspondance')}</h2>
              <p>
                <a href={`${BASE}/profils/${encodeURIComponent(d.message.linkId)}`}>
                  {t('messages.voirProfil')}
                </a>
              </p>
              <MappingResult
                idPrefix="actuel"
                profile={d.mapping.profile}
                result={d.mapping.result}
                unavailable={d.mapping.unavailable}
              />
            </section>
          )}
          <section aria-labelledby="h-ecrit">
            <h2 id="h-ecrit">{t('messages.ecrit')}</h2>
            <Written d={d} />
          </section>
          {d.message.direction === 'inbound' && (
            <section aria-labelledby="h-accuse">
              <h2 id="h-accuse">{t('messages.accuse')}</h2>
              <Ack d={d} />
            </section>
          )}
        </>
      )}
    </>
  );
}
