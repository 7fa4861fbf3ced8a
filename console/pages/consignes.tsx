/**
 * Consignes et scripts (issue 21): the practice's versioned document the secretariat's agents
 * follow — the welcome script, instructions per patient profile and per practitioner, what counts
 * as urgent and whom to call — the version in force and when the platform received it, an edit
 * (If-Match with the version shown), and every version with its author and a line diff.
 * Instructions per visit type live with the appointment types of the mapping profile (Profils).
 * Routes: src/api/routes/consignes.ts.
 */
import { useState } from 'preact/hooks';

import { ApiError, getJson, ifMatch, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader } from '../components/common.js';
import { LineDiff } from '../components/line-diff.js';
import { practitionerName, usePractitioners } from '../components/practitioners.js';
import { type Practice, useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { formatDateTime, t } from '../i18n/index.js';
import { can } from '../session.js';
import type { PageProps } from './types.js';

interface Profile {
  readonly code: string;
  readonly label: string;
  readonly instructions: string;
}
interface Contact {
  readonly label: string;
  readonly phone: string | null;
  readonly when: string | null;
}
interface Document {
  readonly welcomeScript?: string;
  readonly profiles?: readonly Profile[];
  readonly practitioners?: readonly { practitionerId: string; instructions: string }[];
  readonly urgent?: { readonly criteria?: readonly string[]; readonly whomToCall?: readonly Contact[] };
}
interface Version {
  readonly version: number;
  readonly document: Document;
  readonly author: string;
  readonly createdAt: string;
  readonly publishedAt: string | null;
  readonly publishError: string | null;
  readonly diff?: readonly { path: string }[];
}

/** The document as the diff and the editor show it: stable key order, two-space JSON. */
const pretty = (d: Document | undefined): string =>
  d === undefined
    ? ''
    : JSON.stringify(
        {
          welcomeScript: d.welcomeScript ?? '',
          profiles: d.profiles ?? [],
          practitioners: d.practitioners ?? [],
          urgent: { criteria: d.urgent?.criteria ?? [], whomToCall: d.urgent?.whomToCall ?? [] },
        },
        null,
        2,
      );

function DocumentView(props: { doc: Document; practiceId: string }) {
  const d = props.doc;
  const practitioners = usePractitioners(props.practiceId);
  const criteria = d.urgent?.criteria ?? [];
  const contacts = d.urgent?.whomToCall ?? [];
  return (
    <>
      <section aria-labelledby="accueil">
        <h2 id="accueil">{t('consignes.accueil')}</h2>
        {d.welcomeScript ? (
          <blockquote class="welcome-script" data-field="welcomeScript">
            {d.welcomeScript}
          </blockquote>
        ) : (
          <p>{t('consignes.aucunScript')}</p>
        )}
      </section>
      <section aria-labelledby="profils-patients">
        <h2 id="profils-patients">{t('consignes.profils')}</h2>
        {(d.profiles ?? []).length === 0 ? (
          <p>{t('consignes.aucunProfil')}</p>
        ) : (
          <table data-table="profils">
            <caption class="visually-hidden">{t('consignes.profils')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('consignes.libelle')}</th>
                <th scope="col">{t('consignes.instructions')}</th>
              </tr>
            </thead>
            <tbody>
              {(d.profiles ?? []).map((p) => (
                <tr key={p.code}>
                  <th scope="row">{p.label}</th>
                  <td>{p.instructions}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="par-praticien">
        <h2 id="par-praticien">{t('consignes.praticiens')}</h2>
        {(d.practitioners ?? []).length === 0 ? (
          <p>{t('consignes.aucunPraticien')}</p>
        ) : (
          <table data-table="praticiens">
            <caption class="visually-hidden">{t('consignes.praticiens')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('consignes.praticien')}</th>
                <th scope="col">{t('consignes.instructions')}</th>
              </tr>
            </thead>
            <tbody>
              {(d.practitioners ?? []).map((p) => (
                <tr key={p.practitionerId}>
                  <th scope="row">{practitionerName(practitioners.data?.items, p.practitionerId)}</th>
                  <td>{p.instructions}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p class="help">{t('consignes.typesVisite')}</p>
      </section>
      <section aria-labelledby="urgences">
        <h2 id="urgences">{t('consignes.urgences')}</h2>
        {criteria.length === 0 ? (
          <p>{t('consignes.aucunCritere')}</p>
        ) : (
          <ul data-list="criteres">
            {criteria.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
        )}
        {contacts.length === 0 ? (
          <p>{t('consignes.aucunContact')}</p>
        ) : (
          <table data-table="a-appeler">
            <caption>{t('consignes.aAppeler')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('consignes.qui')}</th>
                <th scope="col">{t('consignes.telephone')}</th>
                <th scope="col">{t('consignes.quand')}</th>
              </tr>
            </thead>
            <tbody>
              {contacts.map((c, i) => (
                <tr key={i}>
                  <th scope="row">{c.label}</th>
                  <td>{c.phone ?? ''}</td>
                  <td>{c.when ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

/**
 * The form: the welcome script and the urgent criteria as text (what changes most often), the
 * lists of records (profiles, practitioners, whom to call) as JSON checked before sending; the
 * server validates the whole and its field paths are shown by ErrorBox.
 */
function Editor(props: { practiceId: string; current: Version | null; onSaved: (message: string) => void }) {
  const d = props.current?.document ?? {};
  const [open, setOpen] = useState(false);
  const [script, setScript] = useState(d.welcomeScript ?? '');
  const [criteria, setCriteria] = useState((d.urgent?.criteria ?? []).join('\n'));
  const lists = () =>
    JSON.stringify(
      {
        profiles: d.profiles ?? [],
        practitioners: d.practitioners ?? [],
        whomToCall: d.urgent?.whomToCall ?? [],
      },
      null,
      2,
    );
  const [rest, setRest] = useState(lists());
  const [error, setError] = useState<Error | null>(null);
  const start = () => {
    setScript(d.welcomeScript ?? '');
    setCriteria((d.urgent?.criteria ?? []).join('\n'));
    setRest(lists());
    setError(null);
    setOpen(true);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let parsed: { profiles?: unknown; practitioners?: unknown; whomToCall?: unknown };
    try {
      parsed = JSON.parse(rest) as typeof parsed;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('{…}');
    } catch (err) {
      setError(new Error(t('consignes.jsonInvalide', { erreur: (err as Error).message })));
      return;
    }
    const body = {
      welcomeScript: script,
      profiles: parsed.profiles ?? [],
      practitioners: parsed.practitioners ?? [],
      urgent: {
        criteria: criteria
          .split('\n')
          .map((c) => c.trim())
          .filter((c) => c !== ''),
        whomToCall: parsed.whomToCall ?? [],
      },
    };
    try {
      const saved = await sendJson<Version>(
        'PUT',
        `/api/v1/practices/${encodeURIComponent(props.practiceId)}/consignes`,
        // The version shown: a change made elsewhere since is refused (409), not overwritten; 0 creates.
        { body, headers: ifMatch(props.current?.version ?? 0) },
      );
      setOpen(false);
      props.onSaved(
        saved.publishError === null
          ? t('consignes.enregistrees', { version: saved.version })
          : t('consignes.enregistreesNonPubliees', { version: saved.version }),
      );
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    }
  };
  if (!open)
    return (
      <div class="page-actions">
        <button type="button" onClick={start}>
          {t('consignes.modifier')}
        </button>
      </div>
    );
  return (
    <form onSubmit={save} aria-labelledby="modifier-consignes">
      <h2 id="modifier-consignes">{t('consignes.modifier')}</h2>
      {error && <ErrorBox error={error} />}
      <div class="field field-wide">
        <label for="consignes-accueil">{t('consignes.accueil')}</label>
        <textarea
          id="consignes-accueil"
          rows={4}
          value={script}
          onInput={(e) => setScript((e.target as HTMLTextAreaElement).value)}
        />
      </div>
      <div class="field field-wide">
        <label for="consignes-criteres">{t('consignes.criteres')}</label>
        <textarea
          id="consignes-criteres"
          rows={5}
          aria-describedby="consignes-criteres-aide"
          value={criteria}
          onInput={(e) => setCriteria((e.target as HTMLTextAreaElement).value)}
        />
        <p class="help" id="consignes-criteres-aide">
          {t('consignes.criteresAide')}
        </p>
      </div>
      <div class="field field-wide">
        <label for="consignes-listes">{t('consignes.listes')}</label>
        <textarea
          id="consignes-listes"
          rows={16}
          spellcheck={false}
          aria-describedby="consignes-listes-aide"
          value={rest}
          onInput={(e) => setRest((e.target as HTMLTextAreaElement).value)}
        />
        <p class="help" id="consignes-listes-aide">
          {t('consignes.listesAide')}
        </p>
      </div>
      <div class="form-actions">
        <button type="submit">{t('consignes.enregistrer')}</button>
        <button type="button" class="secondary" onClick={() => setOpen(false)}>
          {t('consignes.annuler')}
        </button>
      </div>
    </form>
  );
}

function History(props: { versions: readonly Version[] }) {
  const v = props.versions;
  if (v.length === 0) return null;
  return (
    <section aria-labelledby="historique">
      <h2 id="historique">{t('consignes.historique')}</h2>
      <table data-table="versions">
        <caption class="visually-hidden">{t('consignes.historique')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('consignes.version')}</th>
            <th scope="col">{t('consignes.le')}</th>
            <th scope="col">{t('consignes.auteur')}</th>
            <th scope="col">{t('consignes.plateforme')}</th>
            <th scope="col">{t('consignes.changements')}</th>
          </tr>
        </thead>
        <tbody>
          {v.map((x, i) => (
            <tr key={x.version} data-version={x.version}>
              <th scope="row">{x.version}</th>
              <td>{formatDateTime(x.createdAt)}</td>
              <td data-field="author">{x.author}</td>
              <td>
                {x.publishedAt
                  ? t('consignes.publieeLe', { date: formatDateTime(x.publishedAt) })
                  : x.publishError
                    ? t('consignes.nonPubliee')
                    : '—'}
              </td>
              <td>
                <details>
                  <summary>{t('consignes.champs', { n: x.diff?.length ?? 0 })}</summary>
                  <LineDiff
                    before={pretty(v[i + 1]?.document)}
                    after={pretty(x.document)}
                    caption={t('consignes.diffCaption', { version: x.version })}
                  />
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function PracticeConsignes(props: { practiceId: string }) {
  const { session } = useConsole();
  const [stamp, setStamp] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const [publishing, setPublishing] = useState<Error | null>(null);
  const base = `/api/v1/practices/${encodeURIComponent(props.practiceId)}/consignes`;
  const load = useLoad(async () => {
    const [current, versions] = await Promise.all([
      getJson<Version>(base).catch((e: unknown) => {
        // 404: none yet, the first version is created with If-Match "0".
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }),
      getJson<{ items: Version[] }>(`${base}/versions`),
    ]);
    return { current, versions: versions.items };
  }, [props.practiceId, stamp]);
  if (load.error) return <ErrorBox error={load.error} retry={load.reload} />;
  if (!load.data) return <Loading />;
  const { current, versions } = load.data;
  const integrator = can(session, 'integrator');
  const republish = async () => {
    setPublishing(null);
    try {
      await sendJson('POST', `${base}/publish`, {});
      setStamp((n) => n + 1);
    } catch (err) {
      setPublishing(err instanceof Error ? err : new Error(String(err)));
    }
  };
  return (
    <div data-consignes={props.practiceId} data-version={current?.version ?? 0}>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {current === null ? (
        <p>{t('consignes.aucune')}</p>
      ) : (
        <>
          <p data-field="en-vigueur">
            <strong>{t('consignes.enVigueur', { version: current.version })}</strong>{' '}
            {t('consignes.par', { auteur: current.author, date: formatDateTime(current.createdAt) })}{' '}
            {current.publishedAt ? (
              <Badge tone="ok">
                {t('consignes.publieeLe', { date: formatDateTime(current.publishedAt) })}
              </Badge>
            ) : (
              <Badge tone="bad">{t('consignes.nonPubliee')}</Badge>
            )}
          </p>
          {current.publishError && (
            <p class="help">{t('consignes.erreurPublication', { erreur: current.publishError })}</p>
          )}
          {publishing && <ErrorBox error={publishing} />}
          {integrator && current.publishedAt === null && (
            <div class="page-actions">
              <button type="button" class="secondary" onClick={() => void republish()}>
                {t('consignes.republier')}
              </button>
            </div>
          )}
          <DocumentView doc={current.document} practiceId={props.practiceId} />
        </>
      )}
      {integrator && (
        <Editor
          key={`${props.practiceId}:${current?.version ?? 0}`}
          practiceId={props.practiceId}
          current={current}
          onSaved={(m) => {
            setNotice(m);
            setStamp((n) => n + 1);
          }}
        />
      )}
      <History versions={versions} />
    </div>
  );
}

function PracticeChooser(props: { practices: readonly Practice[]; onChoose: (id: string) => void }) {
  return (
    <div class="practice-chooser">
      <p>{t('consignes.choisirCabinet')}</p>
      <ul>
        {props.practices.map((p) => (
          <li key={p.id}>
            <button type="button" class="secondary" onClick={() => props.onChoose(p.id)}>
              {t('consignes.voirCabinet', { cabinet: p.name })}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function ConsignesPage(_props: PageProps) {
  const { practiceId, practices, setPracticeId } = useConsole();
  return (
    <>
      <PageHeader title={t('consignes.titre')} intro={t('consignes.intro')} />
      {practiceId === null ? (
        <PracticeChooser practices={practices} onChoose={setPracticeId} />
      ) : (
        <PracticeConsignes practiceId={practiceId} />
      )}
    </>
  );
}
