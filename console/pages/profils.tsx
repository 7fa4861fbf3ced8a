/**
 * Mapping profiles (issue 19 point 4): each link's running profile, its version history with
 * line diffs, and for integrators an editor validated as they type (errors at their line), a
 * test of the draft on a stored or pasted message, activation and rollback
 * (src/api/routes/mapping.ts, docs/mappings.md « Live changes »).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { ApiError, type ApiIssue, getJson, query, sendJson } from '../api.js';
import { CodeEditor, goToLine, type LineMark } from '../components/code-editor.js';
import { Badge, ErrorBox, Loading, PageHeader } from '../components/common.js';
import { LineDiff } from '../components/line-diff.js';
import { type LinkSummary, useLinks } from '../components/link-choice.js';
import { type DryRunResult, type MappingProfileRef, MappingResult } from '../components/mapping-result.js';
import { useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { formatDateTime, t } from '../i18n/index.js';
import { BASE } from '../router.js';
import { can } from '../session.js';
import type { MessageMapping, MessageSummary } from './messages.js';
import type { PageProps } from './types.js';

/** GET /api/v1/links/:id/mapping (MappingView). */
export interface MappingView {
  readonly linkId: string;
  readonly active: {
    readonly source: 'custom' | 'shipped';
    readonly name: string;
    readonly protocol: string;
    readonly version: number | null;
    readonly hash: string;
    readonly yaml: string;
  };
  readonly history: readonly ProfileVersion[];
}

export interface ProfileVersion {
  readonly version: number;
  readonly name: string;
  readonly hash: string;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly active: boolean;
  readonly comment: string | null;
}

/** One issue of a draft, located in its text (POST /api/v1/mapping/validate's ValidationIssue). */
export interface DraftIssue {
  readonly line: number | null;
  readonly column: number | null;
  readonly path: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  readonly code?: string | undefined;
}

const mappingUrl = (linkId: string) => `/api/v1/links/${encodeURIComponent(linkId)}/mapping`;

/** An issue of a 422 (`location` = `profile:12:5`) as a located draft issue. */
function located(i: ApiIssue & { location?: string; code?: string }): DraftIssue {
  const m = /:(\d+):(\d+)$/.exec(i.location ?? '');
  return {
    line: i.line ?? (m ? Number(m[1]) : null),
    column: i.column ?? (m ? Number(m[2]) : null),
    path: i.path,
    message: i.message,
    severity: i.severity === 'warning' ? 'warning' : 'error',
    code: i.code,
  };
}

/**
 * Validation as you type: POST /api/v1/mapping/validate compiles the text as PUT would and
 * stores nothing; `protocol` makes a profile of another protocol than the link's an error.
 */
async function validateDraft(protocol: string, text: string): Promise<DraftIssue[]> {
  if (text.trim() === '')
    return [{ line: 1, column: 1, path: '', message: t('profils.vide'), severity: 'error' }];
  const r = await sendJson<{ ok: boolean; issues: DraftIssue[] }>(
    'POST',
    `/api/v1/mapping/validate${query({ protocol })}`,
    { raw: { text, type: 'application/yaml' } },
  );
  return r.issues;
}

// ——— The list ———

function ProfileRow(props: { link: LinkSummary; practice: string }) {
  const { link } = props;
  const m = useLoad(() => getJson<MappingView>(mappingUrl(link.id)), [link.id]);
  return (
    <tr data-link={link.id}>
      <td>
        <a href={`${BASE}/profils/${encodeURIComponent(link.id)}`}>{link.name}</a>
      </td>
      <td>{props.practice}</td>
      <td>{t(`commun.connecteurs.${link.connector}` as 'commun.connecteurs.fhir')}</td>
      <td>{m.data ? <code>{m.data.active.name}</code> : m.error ? t('profils.indisponible') : '…'}</td>
      <td>{m.data ? t(`profils.sources.${m.data.active.source}`) : ''}</td>
      <td>
        {m.data?.active.version
          ? t('profils.versionN', { n: m.data.active.version })
          : t('profils.aucuneVersion')}
      </td>
    </tr>
  );
}

export function Profiles() {
  const { practices } = useConsole();
  const links = useLinks();
  const items = (links.data?.items ?? []).filter((l) => l.role === 'practice');
  return (
    <>
      <PageHeader title={t('profils.titre')} intro={t('profils.intro')} />
      {links.error && <ErrorBox error={links.error} retry={links.reload} />}
      {!links.data && !links.error && <Loading />}
      {links.data && items.length === 0 && <p>{t('profils.aucuneLiaison')}</p>}
      {items.length > 0 && (
        <table class="profiles">
          <caption>{t('profils.tableau')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('profils.liaison')}</th>
              <th scope="col">{t('profils.cabinet')}</th>
              <th scope="col">{t('profils.connecteur')}</th>
              <th scope="col">{t('profils.profil')}</th>
              <th scope="col">{t('profils.source')}</th>
              <th scope="col">{t('profils.version')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((l) => (
              <ProfileRow
                key={l.id}
                link={l}
                practice={practices.find((p) => p.id === l.practiceId)?.name ?? l.practiceId}
              />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

// ——— One link's profile ———

/** Inline confirmation: the question and its two buttons replace the action's button. */
function Confirm(props: {
  id: string;
  question: string;
  confirm: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => yes.current?.focus(), []);
  return (
    <div class="confirm-inline" role="group" aria-labelledby={props.id}>
      <p id={props.id}>{props.question}</p>
      <button type="button" ref={yes} onClick={props.onConfirm} disabled={props.busy}>
        {props.confirm}
      </button>{' '}
      <button type="button" class="secondary" onClick={props.onCancel}>
        {t('commun.annuler')}
      </button>
    </div>
  );
}

function IssueList(props: { issues: readonly DraftIssue[]; onGo: (i: DraftIssue) => void }) {
  if (props.issues.length === 0) return null;
  return (
    <ul class="issues">
      {props.issues.map((i, k) => (
        <li key={k} class={`issue issue-${i.severity}`} data-line={i.line ?? ''}>
          <Badge tone={i.severity === 'error' ? 'bad' : 'warn'}>{t(`profils.gravite.${i.severity}`)}</Badge>{' '}
          {i.line !== null ? (
            <button type="button" class="link" onClick={() => props.onGo(i)}>
              {t('profils.ligneColonne', { ligne: i.line, colonne: i.column ?? 1 })}
            </button>
          ) : (
            <span>{t('profils.sansLigne')}</span>
          )}{' '}
          : {i.path && <code>{i.path}</code>} {i.message}
          {i.code && <span class="code"> ({i.code})</span>}
        </li>
      ))}
    </ul>
  );
}

type TestSource = 'stored' | 'pasted';

/** Pasted HL7 has its segments on lines: HL7 ends segments with CR. JSON is sent as written. */
function hl7Input(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith('MSH') ? trimmed.replace(/\r?\n/g, '\r') : trimmed;
}

interface TestOutcome {
  readonly profile: MappingProfileRef | undefined;
  readonly result: DryRunResult | null;
  readonly unavailable?: { readonly code: string; readonly message: string } | undefined;
}

/** Try the draft on a message the link received, or on a pasted one; nothing is written. */
function DraftTest(props: { linkId: string; draft: string; disabled: boolean }) {
  const [source, setSource] = useState<TestSource>('stored');
  const [messageId, setMessageId] = useState('');
  const [pasted, setPasted] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<TestOutcome | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const stored = useLoad(
    () =>
      getJson<{ items: MessageSummary[] }>(
        `/api/v1/links/${encodeURIComponent(props.linkId)}/messages${query({ direction: 'inbound', limit: 50 })}`,
      ),
    [props.linkId],
  );
  const messages = stored.data?.items ?? [];
  const chosen = messageId || messages[0]?.id || '';
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setOutcome(null);
    try {
      if (source === 'stored') {
        const r = await sendJson<{ mapping: MessageMapping | null }>(
          'POST',
          `/api/v1/messages/${encodeURIComponent(chosen)}/dry-run`,
          { body: { profile: props.draft } },
        );
        setOutcome({
          profile: r.mapping?.profile,
          result: r.mapping?.result ?? null,
          unavailable: r.mapping?.unavailable,
        });
      } else {
        const r = await sendJson<DryRunResult & { profile: { name: string } }>(
          'POST',
          `${mappingUrl(props.linkId)}/dry-run`,
          { body: { profile: props.draft, input: hl7Input(pasted) } },
        );
        setOutcome({ profile: { name: r.profile.name, source: 'request' }, result: r });
      }
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={run} class="draft-test">
      <p class="help">{t('profils.essaiAide')}</p>
      <fieldset>
        <legend>{t('profils.essaiSource')}</legend>
        <label class="choice">
          <input
            type="radio"
            name="essai-source"
            value="stored"
            checked={source === 'stored'}
            onChange={() => setSource('stored')}
          />{' '}
          {t('profils.essaiStocke')}
        </label>
        <label class="choice">
          <input
            type="radio"
            name="essai-source"
            value="pasted"
            checked={source === 'pasted'}
            onChange={() => setSource('pasted')}
          />{' '}
          {t('profils.essaiColle')}
        </label>
      </fieldset>
      {source === 'stored' &&
        (stored.error ? (
          <ErrorBox error={stored.error} retry={stored.reload} />
        ) : messages.length === 0 ? (
          <p>{stored.data ? t('profils.aucunMessageStocke') : t('commun.chargement')}</p>
        ) : (
          <div class="field">
            <label for="essai-message">{t('profils.messageStocke')}</label>
            <select
              id="essai-message"
              value={chosen}
              onChange={(e) => setMessageId((e.target as HTMLSelectElement).value)}
            >
              {messages.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id} — {m.messageType} — {m.controlId} — {formatDateTime(m.at)}
                </option>
              ))}
            </select>
          </div>
        ))}
      {source === 'pasted' && (
        <div class="field wide">
          <label for="essai-colle">{t('profils.messageColle')}</label>
          <textarea
            id="essai-colle"
            class="code"
            rows={8}
            wrap="off"
            spellcheck={false}
            value={pasted}
            onInput={(e) => setPasted((e.target as HTMLTextAreaElement).value)}
          />
        </div>
      )}
      <button
        type="submit"
        disabled={busy || props.disabled || (source === 'stored' ? !chosen : pasted.trim() === '')}
      >
        {t('profils.lancerEssai')}
      </button>
      {error && <ErrorBox error={error} />}
      {outcome && (
        <section aria-labelledby="resultat-essai" class="test-result">
          <h3 id="resultat-essai">{t('profils.resultatEssai')}</h3>
          <MappingResult
            idPrefix="essai"
            profile={outcome.profile}
            result={outcome.result}
            unavailable={outcome.unavailable}
          />
        </section>
      )}
    </form>
  );
}

/** Which texts the diff compares: `v<n>`, `actif` (the running text) or `brouillon`. */
function Compare(props: { linkId: string; mapping: MappingView; draft: string | null }) {
  const { history, active } = props.mapping;
  const options: { value: string; label: string }[] = [
    ...history.map((v) => ({
      value: `v${v.version}`,
      label: `${t('profils.versionN', { n: v.version })}${v.active ? ` (${t('profils.enService')})` : ''}`,
    })),
    ...(history.length === 0
      ? [{ value: 'actif', label: `${active.name} (${t('profils.sources.shipped')})` }]
      : []),
    ...(props.draft !== null ? [{ value: 'brouillon', label: t('profils.brouillonActuel') }] : []),
  ];
  // A draft that differs: what it changes in the running text; else the last change made.
  const running = history.find((v) => v.active);
  const runningKey = running ? `v${running.version}` : 'actif';
  const drafting = props.draft !== null && props.draft !== active.yaml;
  const defaultFrom = drafting ? runningKey : history[1] ? `v${history[1].version}` : runningKey;
  const defaultTo = drafting ? 'brouillon' : history[0] ? `v${history[0].version}` : runningKey;
  const [from, setFrom] = useState(defaultFrom);
  const [to, setTo] = useState(defaultTo);
  useEffect(() => {
    setFrom(defaultFrom);
    setTo(defaultTo);
  }, [defaultFrom, defaultTo]);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    for (const v of [from, to]) {
      if (!v.startsWith('v') || texts[v] !== undefined) continue;
      getJson<{ yaml: string }>(`${mappingUrl(props.linkId)}/versions/${v.slice(1)}`).then(
        (r) => setTexts((all) => ({ ...all, [v]: r.yaml })),
        (e: Error) => setError(e),
      );
    }
  }, [from, to, props.linkId]);
  const textOf = (v: string) => (v === 'actif' ? active.yaml : v === 'brouillon' ? props.draft : texts[v]);
  const before = textOf(from);
  const after = textOf(to);
  const label = (v: string) => options.find((o) => o.value === v)?.label ?? v;
  if (options.length < 2) return null;
  return (
    <section aria-labelledby="h-comparer">
      <h2 id="h-comparer">{t('profils.comparer')}</h2>
      <div class="filters">
        <div class="field">
          <label for="diff-de">{t('profils.de')}</label>
          <select id="diff-de" value={from} onChange={(e) => setFrom((e.target as HTMLSelectElement).value)}>
            {options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="diff-a">{t('profils.a')}</label>
          <select id="diff-a" value={to} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
            {options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      {error && <ErrorBox error={error} />}
      {before !== undefined && before !== null && after !== undefined && after !== null ? (
        <LineDiff
          before={before}
          after={after}
          caption={t('profils.comparaison', { de: label(from), a: label(to) })}
        />
      ) : (
        !error && <Loading />
      )}
    </section>
  );
}

function History(props: {
  linkId: string;
  mapping: MappingView;
  integrator: boolean;
  onChanged: (message: string) => void;
}) {
  const [asking, setAsking] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const rollback = async (version: number) => {
    setBusy(true);
    setError(null);
    try {
      const r = await sendJson<{ version: number; restored: number }>(
        'POST',
        `${mappingUrl(props.linkId)}/rollback`,
        {
          body: { version, comment: t('profils.commentaireRetour', { n: version }) },
        },
      );
      setAsking(null);
      props.onChanged(t('profils.retourFait', { n: r.restored, nouvelle: r.version }));
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };
  const { history } = props.mapping;
  return (
    <section aria-labelledby="h-historique">
      <h2 id="h-historique">{t('profils.historique')}</h2>
      {history.length === 0 ? (
        <p>{t('profils.historiqueVide')}</p>
      ) : (
        <table class="history">
          <caption>{t('profils.historiqueTableau')}</caption>
          <thead>
            <tr>
              <th scope="col" class="num">
                {t('profils.version')}
              </th>
              <th scope="col">{t('profils.creeLe')}</th>
              <th scope="col">{t('profils.auteur')}</th>
              <th scope="col">{t('profils.commentaire')}</th>
              <th scope="col">{t('profils.etat')}</th>
              {props.integrator && <th scope="col">{t('messages.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {history.map((v) => (
              <tr key={v.version} data-version={v.version}>
                <td class="num">{v.version}</td>
                <td>{formatDateTime(v.createdAt)}</td>
                <td>{v.createdBy ?? '—'}</td>
                <td>{v.comment ?? ''}</td>
                <td>{v.active && <Badge tone="ok">{t('profils.enService')}</Badge>}</td>
                {props.integrator && (
                  <td>
                    {!v.active &&
                      (asking === v.version ? (
                        <Confirm
                          id={`retour-${v.version}`}
                          question={t('profils.revenirConfirmer', { n: v.version })}
                          confirm={t('profils.confirmerRetour', { n: v.version })}
                          busy={busy}
                          onConfirm={() => void rollback(v.version)}
                          onCancel={() => setAsking(null)}
                        />
                      ) : (
                        <button type="button" class="secondary" onClick={() => setAsking(v.version)}>
                          {t('profils.revenir')}
                          <span class="visually-hidden"> ({t('profils.versionN', { n: v.version })})</span>
                        </button>
                      ))}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error && <ErrorBox error={error} />}
    </section>
  );
}

function Editor(props: {
  linkId: string;
  linkName: string;
  mapping: MappingView;
  onChanged: (m: string) => void;
  draft: string;
  setDraft: (d: string) => void;
}) {
  const { mapping, draft, setDraft } = props;
  const area = useRef<HTMLTextAreaElement>(null);
  const activateButton = useRef<HTMLButtonElement>(null);
  const [issues, setIssues] = useState<DraftIssue[]>([]);
  const [checking, setChecking] = useState(false);
  const [checkError, setCheckError] = useState<Error | null>(null);
  const [comment, setComment] = useState('');
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const generation = useRef(0);
  // Validation as you type: 400 ms after the last keystroke; a late answer for an older text is dropped.
  useEffect(() => {
    const mine = ++generation.current;
    setChecking(true);
    const timer = setTimeout(() => {
      validateDraft(mapping.active.protocol, draft).then(
        (found) => {
          if (mine !== generation.current) return;
          setIssues(found);
          setCheckError(null);
          setChecking(false);
        },
        (e: unknown) => {
          if (mine !== generation.current) return;
          setCheckError(e instanceof Error ? e : new Error(String(e)));
          setChecking(false);
        },
      );
    }, 400);
    return () => clearTimeout(timer);
  }, [draft, props.linkId, mapping.active.protocol]);
  const errors = issues.filter((i) => i.severity === 'error');
  const warnings = issues.filter((i) => i.severity === 'warning');
  const marks = useMemo(() => {
    const m = new Map<number, LineMark>();
    for (const i of issues)
      if (i.line !== null && (i.severity === 'error' || !m.has(i.line))) m.set(i.line, i.severity);
    return m;
  }, [issues]);
  const changed = draft !== mapping.active.yaml;
  const activate = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await sendJson<{ version: number; unchanged: boolean }>('PUT', mappingUrl(props.linkId), {
        body: { profile: draft, ...(comment.trim() && { comment: comment.trim() }) },
      });
      setAsking(false);
      setComment('');
      props.onChanged(
        r.unchanged ? t('profils.inchange', { n: r.version }) : t('profils.active', { n: r.version }),
      );
    } catch (e) {
      if (e instanceof ApiError && e.status === 422 && e.issues.length > 0) setIssues(e.issues.map(located));
      setError(e instanceof Error ? e : new Error(String(e)));
      setAsking(false);
    } finally {
      setBusy(false);
    }
  };
  const status = checking
    ? t('profils.validationEnCours')
    : errors.length > 0
      ? t('profils.erreurs', { n: errors.length })
      : warnings.length > 0
        ? t('profils.valideAvertissements', { n: warnings.length })
        : t('profils.valide');
  return (
    <>
      <section aria-labelledby="h-editeur">
        <h2 id="h-editeur">{t('profils.editeur')}</h2>
        <p class="help" id="editeur-aide">
          {t('profils.editeurAide')}
        </p>
        <div class="field wide">
          <label for="profil-texte">
            {t('profils.texte')}
            {changed && (
              <>
                {' '}
                <Badge tone="warn">{t('profils.modifie')}</Badge>
              </>
            )}
          </label>
          <CodeEditor
            id="profil-texte"
            value={draft}
            onInput={setDraft}
            marks={marks}
            areaRef={area}
            describedBy="editeur-aide validation-etat"
            invalid={errors.length > 0}
          />
        </div>
        <div class="validation" aria-labelledby="h-validation">
          <h3 id="h-validation">{t('profils.validation')}</h3>
          <p id="validation-etat" role="status" class={errors.length ? 'invalid' : 'valid'}>
            {errors.length > 0 && !checking ? <Badge tone="bad">{status}</Badge> : status}
          </p>
          {checkError && <ErrorBox error={checkError} />}
          <IssueList
            issues={issues}
            onGo={(i) => {
              if (area.current && i.line !== null) goToLine(area.current, i.line, i.column ?? 1);
            }}
          />
        </div>
        {changed && (
          <button type="button" class="secondary" onClick={() => setDraft(mapping.active.yaml)}>
            {t('profils.reinitialiser')}
          </button>
        )}
      </section>
      <section aria-labelledby="h-essai">
        <h2 id="h-essai">{t('profils.essai')}</h2>
        <DraftTest linkId={props.linkId} draft={draft} disabled={errors.length > 0} />
      </section>
      <section aria-labelledby="h-activer">
        <h2 id="h-activer">{t('profils.activer')}</h2>
        <p class="help">{t('profils.activerAide')}</p>
        <div class="field">
          <label for="commentaire">{t('profils.commentaire')}</label>
          <input
            id="commentaire"
            maxLength={500}
            value={comment}
            onInput={(e) => setComment((e.target as HTMLInputElement).value)}
          />
        </div>
        {errors.length > 0 && <p class="help">{t('profils.corrigerAvant')}</p>}
        {asking ? (
          <Confirm
            id="activer-question"
            question={t('profils.activerConfirmer', { liaison: props.linkName })}
            confirm={t('profils.confirmerActivation')}
            busy={busy}
            onConfirm={() => void activate()}
            onCancel={() => {
              setAsking(false);
              setTimeout(() => activateButton.current?.focus(), 0);
            }}
          />
        ) : (
          <button
            type="button"
            ref={activateButton}
            disabled={errors.length > 0 || checking || busy}
            onClick={() => setAsking(true)}
          >
            {t('profils.activerBouton')}
          </button>
        )}
        {error && <ErrorBox error={error} />}
      </section>
    </>
  );
}

export function ProfilePage(props: PageProps) {
  const linkId = props.params['linkId'] ?? '';
  const { session } = useConsole();
  const integrator = can(session, 'integrator');
  const link = useLoad(() => getJson<LinkSummary>(`/api/v1/links/${encodeURIComponent(linkId)}`), [linkId]);
  const mapping = useLoad(() => getJson<MappingView>(mappingUrl(linkId)), [linkId]);
  const [draft, setDraft] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const activeYaml = mapping.data?.active.yaml;
  const activeHash = mapping.data?.active.hash;
  // A new running profile (activation, rollback): the editor starts again from it.
  useEffect(() => {
    if (activeYaml !== undefined) setDraft(activeYaml);
  }, [activeHash]);
  const m = mapping.data;
  const name = link.data?.name ?? linkId;
  const changed = (message: string) => {
    setNotice(message);
    mapping.reload();
  };
  return (
    <>
      <PageHeader title={t('profils.titreLiaison', { liaison: name })}>
        <a href={`${BASE}/profils`}>{t('profils.retour')}</a>
      </PageHeader>
      {(mapping.error ?? link.error) && (
        <ErrorBox error={(mapping.error ?? link.error) as Error} retry={mapping.reload} />
      )}
      {!m && !mapping.error && <Loading />}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {m && (
        <>
          <section aria-labelledby="h-actif">
            <h2 id="h-actif">{t('profils.actif')}</h2>
            <dl class="props">
              <dt>{t('profils.profil')}</dt>
              <dd>
                <code>{m.active.name}</code>
              </dd>
              <dt>{t('profils.source')}</dt>
              <dd>{t(`profils.sources.${m.active.source}`)}</dd>
              <dt>{t('profils.version')}</dt>
              <dd data-testid="version-active">
                {m.active.version
                  ? t('profils.versionN', { n: m.active.version })
                  : t('profils.aucuneVersion')}
              </dd>
              <dt>{t('profils.protocole')}</dt>
              <dd>{m.active.protocol}</dd>
              <dt>{t('profils.empreinte')}</dt>
              <dd>
                <code>{m.active.hash.slice(0, 12)}</code>
              </dd>
            </dl>
            {!integrator && (
              <details>
                <summary>{t('profils.texteActif')}</summary>
                <pre class="profile-text" tabIndex={0} aria-label={t('profils.texteActif')}>
                  {m.active.yaml}
                </pre>
              </details>
            )}
          </section>
          {integrator && draft !== null && (
            <Editor
              linkId={linkId}
              linkName={name}
              mapping={m}
              onChanged={changed}
              draft={draft}
              setDraft={setDraft}
            />
          )}
          <History linkId={linkId} mapping={m} integrator={integrator} onChanged={changed} />
          <Compare linkId={linkId} mapping={m} draft={integrator ? draft : null} />
        </>
      )}
    </>
  );
}
