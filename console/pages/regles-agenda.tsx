/**
 * Règles d'agenda (issue 20): per practitioner, the rules in effect and where they come from
 * (set in passerelle, or read from the practice software), weekly hours, visit types, absences,
 * the secretariat's coverage, the appointments left outside the rules, forced bookings and a
 * free-slot preview for a visit type and week. Integrators edit the rules (If-Match with the
 * version shown); viewers only read. Routes: src/api/routes/agenda.ts.
 */
import { useEffect, useState } from 'preact/hooks';

import { getJson, ifMatch, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader } from '../components/common.js';
import { practitionerLabel, usePractitioners } from '../components/practitioners.js';
import { type Practice, useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { formatDateTime, t } from '../i18n/index.js';
import { can } from '../session.js';
import type { PageProps } from './types.js';

type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
type Kind = 'consultation' | 'urgent' | 'home-visit';
interface Weekly {
  readonly days: readonly Day[];
  readonly start: string;
  readonly end: string;
  readonly kind?: Kind;
}
interface Rules {
  readonly weekly?: readonly Weekly[];
  readonly exceptions?: readonly {
    readonly date: string;
    readonly hours?: readonly { start: string; end: string }[];
    readonly label?: string;
  }[];
  readonly visitTypes?: readonly {
    readonly code: string;
    readonly label: string;
    readonly durationMinutes: number;
  }[];
  readonly absences?: readonly {
    readonly start?: string;
    readonly end?: string;
    readonly fromDate?: string;
    readonly toDate?: string;
    readonly label?: string;
  }[];
}
interface StoredRules {
  readonly practitionerId: string;
  readonly rules: Rules;
  readonly version: number;
}
interface Imported {
  readonly inEffect: 'api' | 'practice-software' | null;
  readonly imported: {
    readonly rules: Rules;
    readonly hasHours: boolean;
    readonly sources: readonly { source: string; reference: string }[];
  };
}
interface Outside {
  readonly id: string;
  readonly start: string;
  readonly end: string;
  readonly reason: Reason;
}
interface Forced {
  readonly id: string;
  readonly start: string;
  readonly end: string;
  readonly reason: string;
  readonly usedBy: string | null;
}
interface Coverage {
  readonly windows: { readonly weekly?: readonly Weekly[] } | null;
}
interface FreeSlot {
  readonly start: string;
  readonly end: string;
  readonly urgentOnly: boolean;
}

type Reason =
  | 'visit-type-unknown'
  | 'duration'
  | 'holiday'
  | 'day-closed'
  | 'absence'
  | 'closed'
  | 'urgent-only'
  | 'period-not-allowed'
  | 'daily-cap'
  | 'occupied'
  | 'buffer';

const days = (list: readonly Day[]) => list.map((d) => t(`reglesAgenda.joursNoms.${d}`)).join(' ');

function WeeklyTable(props: { caption: string; weekly: readonly Weekly[] | undefined; id: string }) {
  if (!props.weekly || props.weekly.length === 0) return <p>{t('reglesAgenda.aucunHoraire')}</p>;
  return (
    <table data-table={props.id}>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t('reglesAgenda.jours')}</th>
          <th scope="col">{t('reglesAgenda.de')}</th>
          <th scope="col">{t('reglesAgenda.a')}</th>
          <th scope="col">{t('reglesAgenda.nature')}</th>
        </tr>
      </thead>
      <tbody>
        {props.weekly.map((w, i) => (
          <tr key={i}>
            <td>{days(w.days)}</td>
            <td>{w.start}</td>
            <td>{w.end}</td>
            <td>{t(`reglesAgenda.natures.${w.kind ?? 'consultation'}`)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RulesView(props: { rules: Rules }) {
  const r = props.rules;
  return (
    <>
      <WeeklyTable caption={t('reglesAgenda.horaires')} weekly={r.weekly} id="horaires" />
      {(r.exceptions ?? []).length > 0 && (
        <table data-table="exceptions">
          <caption>{t('reglesAgenda.exceptions')}</caption>
          <tbody>
            {(r.exceptions ?? []).map((e) => (
              <tr key={e.date}>
                <th scope="row">{e.date}</th>
                <td>
                  {(e.hours ?? []).length === 0
                    ? (e.label ?? t('reglesAgenda.ferme'))
                    : (e.hours ?? []).map((h) => `${h.start}–${h.end}`).join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(r.visitTypes ?? []).length === 0 ? (
        <p>{t('reglesAgenda.aucunType')}</p>
      ) : (
        <table data-table="types">
          <caption>{t('reglesAgenda.typesVisite')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('reglesAgenda.code')}</th>
              <th scope="col">{t('reglesAgenda.libelle')}</th>
              <th scope="col">{t('reglesAgenda.duree')}</th>
            </tr>
          </thead>
          <tbody>
            {(r.visitTypes ?? []).map((v) => (
              <tr key={v.code}>
                <td>{v.code}</td>
                <td>{v.label}</td>
                <td>{t('reglesAgenda.minutes', { n: v.durationMinutes })}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(r.absences ?? []).length === 0 ? (
        <p>{t('reglesAgenda.aucuneAbsence')}</p>
      ) : (
        <table data-table="absences">
          <caption>{t('reglesAgenda.absences')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('reglesAgenda.debut')}</th>
              <th scope="col">{t('reglesAgenda.fin')}</th>
              <th scope="col">{t('reglesAgenda.motif')}</th>
            </tr>
          </thead>
          <tbody>
            {(r.absences ?? []).map((a, i) => (
              <tr key={i}>
                <td>{a.fromDate ?? formatDateTime(a.start)}</td>
                <td>{a.toDate ?? formatDateTime(a.end)}</td>
                <td>{a.label ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The Monday of the current week, as YYYY-MM-DD. */
function thisMonday(): string {
  const d = new Date();
  d.setDate(d.getDate() - ((d.getDay() + 6) % 7));
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function Preview(props: { practiceId: string; practitionerId: string; rules: Rules; stamp: number }) {
  const types = props.rules.visitTypes ?? [];
  const [visitType, setVisitType] = useState(types[0]?.code ?? '');
  const [week, setWeek] = useState(thisMonday());
  const [asked, setAsked] = useState<{ visitType: string; week: string } | null>(null);
  useEffect(() => setVisitType(types[0]?.code ?? ''), [props.practitionerId, types[0]?.code]);
  const load = useLoad(async () => {
    if (!asked) return null;
    const from = new Date(`${asked.week}T00:00:00`).toISOString();
    const to = new Date(Date.parse(from) + 7 * 86_400_000).toISOString();
    return getJson<{ items: FreeSlot[] }>(
      `/api/v1/practices/${encodeURIComponent(props.practiceId)}/availability${query({
        practitionerId: props.practitionerId,
        visitType: asked.visitType,
        from,
        to,
      })}`,
    );
  }, [asked?.visitType, asked?.week, props.practitionerId, props.stamp]);
  if (types.length === 0) return null;
  return (
    <section aria-labelledby="apercu">
      <h2 id="apercu">{t('reglesAgenda.apercu')}</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked({ visitType, week });
        }}
      >
        <div class="field">
          <label for="apercu-type">{t('reglesAgenda.typeVisite')}</label>
          <select
            id="apercu-type"
            value={visitType}
            onChange={(e) => setVisitType((e.target as HTMLSelectElement).value)}
          >
            {types.map((v) => (
              <option key={v.code} value={v.code}>
                {v.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="apercu-semaine">{t('reglesAgenda.semaine')}</label>
          <input
            id="apercu-semaine"
            type="date"
            value={week}
            onInput={(e) => setWeek((e.target as HTMLInputElement).value)}
          />
        </div>
        <button type="submit">{t('reglesAgenda.voir')}</button>
      </form>
      {load.error && <ErrorBox error={load.error} />}
      {load.data &&
        (load.data.items.length === 0 ? (
          <p role="status">{t('reglesAgenda.aucunCreneau')}</p>
        ) : (
          <>
            <p role="status">{t('reglesAgenda.creneaux', { n: load.data.items.length })}</p>
            <ul class="free-slots" data-list="creneaux">
              {load.data.items.map((s) => (
                <li key={s.start}>
                  {formatDateTime(s.start)}
                  {s.urgentOnly && <> ({t('reglesAgenda.urgence')})</>}
                </li>
              ))}
            </ul>
          </>
        ))}
    </section>
  );
}

function Editor(props: {
  practiceId: string;
  practitionerId: string;
  stored: StoredRules | undefined;
  imported: Rules;
  onSaved: (message: string) => void;
}) {
  const initial = JSON.stringify(props.stored?.rules ?? props.imported, null, 2);
  const [open, setOpen] = useState(false);
  const [text, setText] = useState(initial);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => setText(initial), [initial]);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let rules: unknown;
    try {
      rules = JSON.parse(text);
    } catch (err) {
      setError(new Error(t('reglesAgenda.jsonInvalide', { erreur: (err as Error).message })));
      return;
    }
    try {
      const saved = await sendJson<{ version: number; outsideRules: unknown[] }>(
        'PUT',
        `/api/v1/practices/${encodeURIComponent(props.practiceId)}/agenda-rules`,
        {
          body: { practitionerId: props.practitionerId, rules },
          // The version shown: a change made elsewhere since is refused (409), not overwritten; 0 creates.
          headers: ifMatch(props.stored?.version ?? 0),
        },
      );
      setOpen(false);
      props.onSaved(
        saved.outsideRules.length > 0
          ? t('reglesAgenda.enregistreesHors', { version: saved.version, n: saved.outsideRules.length })
          : t('reglesAgenda.enregistrees', { version: saved.version }),
      );
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    }
  };
  if (!open)
    return (
      <div class="page-actions">
        <button type="button" onClick={() => setOpen(true)}>
          {t('reglesAgenda.modifier')}
        </button>
      </div>
    );
  return (
    <form onSubmit={save} aria-labelledby="modifier-regles">
      <h2 id="modifier-regles">{t('reglesAgenda.modifier')}</h2>
      {error && <ErrorBox error={error} />}
      <div class="field field-wide">
        <label for="regles-json">{t('reglesAgenda.reglesJson')}</label>
        <textarea
          id="regles-json"
          rows={18}
          spellcheck={false}
          aria-describedby="regles-aide"
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <p class="help" id="regles-aide">
          {t('reglesAgenda.reglesAide')}
        </p>
      </div>
      <div class="form-actions">
        <button type="submit">{t('reglesAgenda.enregistrer')}</button>
        {props.stored && (
          <button
            type="button"
            class="secondary"
            onClick={() => setText(JSON.stringify(props.imported, null, 2))}
          >
            {t('reglesAgenda.partirImportees')}
          </button>
        )}
        <button type="button" class="secondary" onClick={() => setOpen(false)}>
          {t('reglesAgenda.annuler')}
        </button>
      </div>
    </form>
  );
}

function PractitionerRules(props: { practiceId: string; practitionerId: string }) {
  const { session } = useConsole();
  const [stamp, setStamp] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const base = `/api/v1/practices/${encodeURIComponent(props.practiceId)}`;
  const q = query({ practitionerId: props.practitionerId });
  const load = useLoad(async () => {
    const [stored, imported, forced, coverage] = await Promise.all([
      getJson<{ items: StoredRules[] }>(`${base}/agenda-rules${q}`),
      getJson<Imported>(`${base}/agenda-rules/imported${q}`),
      getJson<{ items: Forced[] }>(`${base}/forced-bookings${q}`),
      getJson<Coverage>(`${base}/coverage`),
    ]);
    const outside =
      imported.inEffect === null
        ? []
        : (await getJson<{ items: Outside[] }>(`${base}/agenda-rules/outside${q}`)).items;
    return { stored: stored.items[0], imported, forced: forced.items, coverage, outside };
  }, [props.practiceId, props.practitionerId, stamp]);
  if (load.error) return <ErrorBox error={load.error} retry={load.reload} />;
  if (!load.data) return <Loading />;
  const { stored, imported, forced, coverage, outside } = load.data;
  const inEffect = imported.inEffect;
  const rules = stored?.rules ?? (inEffect === 'practice-software' ? imported.imported.rules : {});
  return (
    <div data-practitioner={props.practitionerId} data-source={inEffect ?? 'none'}>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <p>
        <strong>{t('reglesAgenda.source')} :</strong>{' '}
        <Badge tone={inEffect === null ? 'neutral' : 'ok'}>
          {t(`reglesAgenda.sources.${inEffect ?? 'aucune'}`)}
        </Badge>
      </p>
      {inEffect !== null && <RulesView rules={rules} />}
      {can(session, 'integrator') && (
        <Editor
          practiceId={props.practiceId}
          practitionerId={props.practitionerId}
          stored={stored}
          imported={imported.imported.rules}
          onSaved={(m) => {
            setNotice(m);
            setStamp((n) => n + 1);
          }}
        />
      )}
      <section aria-labelledby="hors-regles">
        <h2 id="hors-regles">{t('reglesAgenda.horsRegles')}</h2>
        <p class="help">{t('reglesAgenda.horsReglesAide')}</p>
        {outside.length === 0 ? (
          <p>{t('reglesAgenda.aucunHorsRegles')}</p>
        ) : (
          <table data-table="hors-regles">
            <caption class="visually-hidden">{t('reglesAgenda.horsRegles')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('reglesAgenda.debut')}</th>
                <th scope="col">{t('reglesAgenda.fin')}</th>
                <th scope="col">{t('reglesAgenda.raison')}</th>
              </tr>
            </thead>
            <tbody>
              {outside.map((o) => (
                <tr key={o.id} data-appointment={o.id}>
                  <td>{formatDateTime(o.start)}</td>
                  <td>{formatDateTime(o.end)}</td>
                  <td>{t(`reglesAgenda.raisons.${o.reason}`)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <Preview
        practiceId={props.practiceId}
        practitionerId={props.practitionerId}
        rules={rules}
        stamp={stamp}
      />
      <section aria-labelledby="importees">
        <h2 id="importees">{t('reglesAgenda.importees')}</h2>
        {imported.imported.sources.length === 0 ? (
          <p>{t('reglesAgenda.importeesAucune')}</p>
        ) : (
          <>
            <p class="help">
              {t('reglesAgenda.importeesDe', {
                sources: imported.imported.sources.map((s) => s.reference).join(', '),
              })}
            </p>
            {inEffect !== 'practice-software' && <RulesView rules={imported.imported.rules} />}
          </>
        )}
      </section>
      <section aria-labelledby="forcees">
        <h2 id="forcees">{t('reglesAgenda.forcees')}</h2>
        {forced.length === 0 ? (
          <p>{t('reglesAgenda.aucuneForcee')}</p>
        ) : (
          <table data-table="forcees">
            <caption class="visually-hidden">{t('reglesAgenda.forcees')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('reglesAgenda.debut')}</th>
                <th scope="col">{t('reglesAgenda.fin')}</th>
                <th scope="col">{t('reglesAgenda.motif')}</th>
                <th scope="col">{t('reglesAgenda.utilisee')}</th>
              </tr>
            </thead>
            <tbody>
              {forced.map((f) => (
                <tr key={f.id}>
                  <td>{formatDateTime(f.start)}</td>
                  <td>{formatDateTime(f.end)}</td>
                  <td>{f.reason}</td>
                  <td>{f.usedBy ? t('reglesAgenda.oui') : t('reglesAgenda.non')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="couverture">
        <h2 id="couverture">{t('reglesAgenda.couverture')}</h2>
        {coverage.windows === null ? (
          <p>{t('reglesAgenda.aucuneCouverture')}</p>
        ) : (
          <WeeklyTable
            caption={t('reglesAgenda.couverture')}
            weekly={coverage.windows.weekly}
            id="couverture"
          />
        )}
      </section>
    </div>
  );
}

function PracticeRules(props: { practiceId: string; search: URLSearchParams }) {
  const practitioners = usePractitioners(props.practiceId);
  const items = practitioners.data?.items ?? [];
  const [chosen, setChosen] = useState<string>(props.search.get('praticien') ?? '');
  useEffect(() => {
    if (!items.some((p) => p.id === chosen) && items[0]) setChosen(items[0].id);
  }, [items.map((p) => p.id).join()]);
  if (!practitioners.data) return <Loading />;
  if (items.length === 0) return <p>{t('reglesAgenda.aucunPraticien')}</p>;
  return (
    <>
      <div class="field">
        <label for="regles-praticien">{t('reglesAgenda.praticien')}</label>
        <select
          id="regles-praticien"
          value={chosen}
          onChange={(e) => setChosen((e.target as HTMLSelectElement).value)}
        >
          {items.map((p) => (
            <option key={p.id} value={p.id}>
              {practitionerLabel(p)}
            </option>
          ))}
        </select>
      </div>
      {chosen && <PractitionerRules practiceId={props.practiceId} practitionerId={chosen} />}
    </>
  );
}

function PracticeChooser(props: { practices: readonly Practice[]; onChoose: (id: string) => void }) {
  return (
    <div class="practice-chooser">
      <p>{t('reglesAgenda.choisirCabinet')}</p>
      <ul>
        {props.practices.map((p) => (
          <li key={p.id}>
            <button type="button" class="secondary" onClick={() => props.onChoose(p.id)}>
              {t('reglesAgenda.voirCabinet', { cabinet: p.name })}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function AgendaRulesPage(props: PageProps) {
  const { practiceId, practices, setPracticeId } = useConsole();
  return (
    <>
      <PageHeader title={t('reglesAgenda.titre')} intro={t('reglesAgenda.intro')} />
      {practiceId === null ? (
        <PracticeChooser practices={practices} onChoose={setPracticeId} />
      ) : (
        <PracticeRules practiceId={practiceId} search={props.search} />
      )}
    </>
  );
}
