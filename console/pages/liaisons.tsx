/**
 * Liaisons: the links of the practice shown (list), one link (status, settings, connection
 * test, enable/disable, practitioner mapping), and the form that creates or edits a link,
 * generated from its connector's config JSON Schema (GET /api/v1/connectors).
 * Routes: src/api/routes/practices.ts (links), sync.ts (status), practitioner-mappings.ts.
 */
import { useState } from 'preact/hooks';

import { ApiError, getJson, ifMatch, query, sendJson } from '../api.js';
import { Badge, ErrorBox, Loading, PageHeader, type Tone } from '../components/common.js';
import {
  type PractitionerItem,
  practitionerLabel,
  practitionerName,
  usePractitioners,
} from '../components/practitioners.js';
import {
  fieldErrors,
  type JsonObject,
  type JsonSchema,
  type JsonValue,
  prune,
  SchemaForm,
} from '../components/schema-form.js';
import { type Practice, useConsole } from '../context.js';
import { useLoad } from '../data.js';
import { useChanges } from '../events.js';
import { formatDateTime, formatDuration, formatNumber, t } from '../i18n/index.js';
import { BASE, navigate, setSearch } from '../router.js';
import { can } from '../session.js';
import type { PageProps } from './types.js';

/** LinkView of src/api/routes/practices.ts (credentials never come back: only `hasSecrets`). */
export interface Link {
  readonly id: string;
  readonly practiceId: string;
  readonly role: 'practice' | 'secretariat';
  readonly connector: string;
  readonly name: string;
  readonly profile: string | null;
  readonly config: JsonObject;
  readonly hasSecrets: boolean;
  readonly schedule: string | null;
  readonly isTest: boolean;
  readonly enabled: boolean;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** LinkStatusView of src/api/routes/sync.ts. */
export interface LinkStatus {
  readonly linkId: string;
  readonly state: 'running' | 'failed' | 'stopped' | 'disabled';
  readonly errors: readonly { readonly path: string; readonly message: string }[];
  readonly errorCode: string | null;
  readonly startedAt: string | null;
  readonly cursors: readonly {
    readonly stream: string;
    readonly cursor: string | null;
    readonly lastSuccessAt: string | null;
    readonly lastError: string | null;
  }[];
  readonly lastSuccessAt: string | null;
  readonly lastPushAt: string | null;
  readonly pollLagSeconds: number | null;
  readonly outboxLagSeconds: number;
  readonly outbox: Readonly<Record<string, number>>;
  readonly deadLetters: number;
  readonly nextPollAt: string | null;
  readonly health: {
    readonly ok: boolean;
    readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail?: string }[];
  } | null;
}

/** One connector as the form needs it: its name and the JSON Schemas of its config and secrets. */
export interface ConnectorInfo {
  readonly name: string;
  readonly configSchema: JsonSchema;
  readonly secretsSchema: JsonSchema | null;
}

type Loose = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * GET /api/v1/connectors, read tolerantly: `{ items }` or a list; per connector its config schema
 * (`configSchema`, `config`, `schemas.config` or `schema`) and secrets schema, whose fields are
 * secret (writeOnly) whatever the schema says.
 */
export function readConnectors(body: unknown): ConnectorInfo[] {
  const list = Array.isArray(body)
    ? (body as unknown[])
    : isObj(body) && Array.isArray(body['items'])
      ? body['items']
      : [];
  return list.filter(isObj).map((c) => {
    const schemas = isObj(c['schemas']) ? c['schemas'] : {};
    const config = [c['configSchema'], c['config'], schemas['config'], c['schema']].find(isObj) ?? {};
    const secrets = [c['secretsSchema'], c['secrets'], schemas['secrets']].find(isObj);
    return {
      name: String(c['name'] ?? c['id'] ?? ''),
      configSchema: config as JsonSchema,
      secretsSchema: secrets ? writeOnlyAll(secrets as JsonSchema) : null,
    };
  });
}

function writeOnlyAll(s: JsonSchema): JsonSchema {
  if (!s.properties) return { ...s, writeOnly: true };
  return {
    ...s,
    properties: Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, writeOnlyAll(v)])),
  };
}

const STATE_TONE: Record<LinkStatus['state'], Tone> = {
  running: 'ok',
  failed: 'bad',
  stopped: 'warn',
  disabled: 'neutral',
};

const connectorLabel = (c: string) => {
  const s = t(`commun.connecteurs.${c}` as 'commun.connecteurs.fhir');
  return s.startsWith('commun.') ? c : s;
};
const roleLabel = (r: string) => {
  const s = t(`commun.rolesLiaison.${r}` as 'commun.rolesLiaison.practice');
  return s.startsWith('commun.') ? r : s;
};
const fieldLabel = (path: readonly string[]) => {
  const key = path[path.length - 1];
  if (!key) return undefined;
  const s = t(`liaisons.champs.${key}` as 'liaisons.champs.baseUrl');
  return s.startsWith('liaisons.') ? undefined : s;
};

function StateBadge(props: { state: LinkStatus['state'] | undefined }) {
  if (!props.state) return <span>—</span>;
  return <Badge tone={STATE_TONE[props.state]}>{t(`commun.etats.${props.state}`)}</Badge>;
}

async function loadConnectors(): Promise<ConnectorInfo[]> {
  return readConnectors(await getJson<unknown>('/api/v1/connectors'));
}

// ---------------------------------------------------------------------------------------------
// The form (create and edit)

interface LinkFormProps {
  readonly link?: Link;
  readonly practices: readonly Practice[];
  readonly practiceId: string | null;
  readonly onSaved: (link: Link) => void;
  readonly onCancel: () => void;
}

function TextField(props: {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  errors: readonly string[];
  help?: string;
  required?: boolean;
  disabled?: boolean;
}) {
  const describedBy = [
    props.errors.length ? `${props.id}-erreur` : null,
    props.help ? `${props.id}-aide` : null,
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <div class={`field${props.errors.length ? ' field-invalid' : ''}`}>
      <label for={props.id}>
        {props.label}
        {props.required && <span class="required"> {t('schemaForm.obligatoire')}</span>}
      </label>
      <input
        id={props.id}
        type="text"
        value={props.value}
        disabled={props.disabled}
        spellcheck={false}
        aria-invalid={props.errors.length > 0 || undefined}
        aria-required={props.required || undefined}
        aria-describedby={describedBy || undefined}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      {props.errors.length > 0 && (
        <p class="field-error" id={`${props.id}-erreur`}>
          {props.errors.join(' ; ')}
        </p>
      )}
      {props.help && (
        <p class="help" id={`${props.id}-aide`}>
          {props.help}
        </p>
      )}
    </div>
  );
}

function SelectField(props: {
  id: string;
  label: string;
  value: string;
  options: readonly { value: string; label: string }[];
  placeholder?: string;
  onChange: (v: string) => void;
  errors: readonly string[];
  disabled?: boolean;
}) {
  return (
    <div class={`field${props.errors.length ? ' field-invalid' : ''}`}>
      <label for={props.id}>
        {props.label} <span class="required">{t('schemaForm.obligatoire')}</span>
      </label>
      <select
        id={props.id}
        value={props.value}
        disabled={props.disabled}
        aria-required
        aria-invalid={props.errors.length > 0 || undefined}
        aria-describedby={props.errors.length ? `${props.id}-erreur` : undefined}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        {props.placeholder !== undefined && <option value="">{props.placeholder}</option>}
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {props.errors.length > 0 && (
        <p class="field-error" id={`${props.id}-erreur`}>
          {props.errors.join(' ; ')}
        </p>
      )}
    </div>
  );
}

function Checkbox(props: {
  id: string;
  label: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  help?: string;
}) {
  return (
    <div class="field field-inline">
      <div class="check">
        <input
          id={props.id}
          type="checkbox"
          checked={props.checked}
          aria-describedby={props.help ? `${props.id}-aide` : undefined}
          onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
        />
        <label for={props.id}>{props.label}</label>
      </div>
      {props.help && (
        <p class="help" id={`${props.id}-aide`}>
          {props.help}
        </p>
      )}
    </div>
  );
}

export function LinkForm(props: LinkFormProps) {
  const editing = props.link;
  const connectors = useLoad(loadConnectors, []);
  const [id, setId] = useState('');
  const [name, setName] = useState(editing?.name ?? '');
  const [practiceId, setPracticeId] = useState(editing?.practiceId ?? props.practiceId ?? '');
  const [role, setRole] = useState<string>(editing?.role ?? 'practice');
  const [connector, setConnector] = useState(editing?.connector ?? '');
  const [profile, setProfile] = useState(editing?.profile ?? '');
  const [schedule, setSchedule] = useState(editing?.schedule ?? '');
  const [isTest, setIsTest] = useState(editing?.isTest ?? false);
  const [enabled, setEnabled] = useState(true);
  const [config, setConfig] = useState<JsonObject>(editing?.config ?? {});
  // Secrets are never prefilled: what is typed replaces them, nothing typed keeps them.
  const [secrets, setSecrets] = useState<JsonObject>({});
  const [error, setError] = useState<Error | null>(null);
  const [saving, setSaving] = useState(false);

  const issues = error instanceof ApiError ? error.issues : [];
  const errs = fieldErrors(issues, 'body');
  const at = (k: string) => errs[k] ?? [];
  const info = connectors.data?.find((c) => c.name === connector);
  const names = connectors.data?.map((c) => c.name) ?? (editing ? [editing.connector] : []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    const sentSecrets = prune(secrets);
    const common = {
      name,
      role,
      profile: profile.trim() === '' ? null : profile.trim(),
      schedule: schedule.trim() === '' ? null : schedule.trim(),
      isTest,
      config: (prune(config) ?? {}) as JsonValue,
      ...(sentSecrets !== undefined && { secrets: sentSecrets }),
    };
    try {
      const saved = editing
        ? await sendJson<Link>('PATCH', `/api/v1/links/${encodeURIComponent(editing.id)}`, {
            body: common,
            headers: ifMatch(editing.version),
          })
        : await sendJson<Link>('POST', '/api/v1/links', {
            body: { ...common, connector, practiceId, enabled, ...(id.trim() !== '' && { id: id.trim() }) },
          });
      setSecrets({});
      props.onSaved(saved);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setSaving(false);
    }
  };

  const prefix = editing ? `modifier-${editing.id}` : 'nouvelle';
  return (
    <form class="link-form" noValidate onSubmit={submit} aria-labelledby={`${prefix}-titre`}>
      <h2 id={`${prefix}-titre`}>{editing ? t('liaisons.modifier') : t('liaisons.nouvelle')}</h2>
      {error && (
        <>
          <p class="field-error" role="alert">
            {issues.length > 0 ? t('liaisons.erreursChamps') : ''}
          </p>
          <ErrorBox error={error} />
        </>
      )}
      <TextField
        id={`${prefix}-nom`}
        label={t('liaisons.nom')}
        value={name}
        onInput={setName}
        errors={at('name')}
        required
      />
      {!editing && (
        <TextField
          id={`${prefix}-id`}
          label={t('liaisons.identifiant')}
          value={id}
          onInput={setId}
          errors={at('id')}
          help={t('liaisons.identifiantAide')}
        />
      )}
      {!editing && (
        <SelectField
          id={`${prefix}-cabinet`}
          label={t('liaisons.cabinet')}
          value={practiceId}
          placeholder={t('liaisons.choisirCabinet')}
          options={props.practices.map((p) => ({ value: p.id, label: p.name }))}
          onChange={setPracticeId}
          errors={at('practiceId')}
        />
      )}
      <SelectField
        id={`${prefix}-role`}
        label={t('liaisons.role')}
        value={role}
        options={['practice', 'secretariat'].map((r) => ({ value: r, label: roleLabel(r) }))}
        onChange={setRole}
        errors={at('role')}
      />
      <SelectField
        id={`${prefix}-connecteur`}
        label={t('liaisons.connecteur')}
        value={connector}
        placeholder={t('liaisons.choisirConnecteur')}
        options={names.map((n) => ({ value: n, label: `${connectorLabel(n)} (${n})` }))}
        disabled={editing !== undefined}
        onChange={(v) => {
          setConnector(v);
          setConfig({});
          setSecrets({});
        }}
        errors={at('connector')}
      />
      <TextField
        id={`${prefix}-profil`}
        label={t('liaisons.profil')}
        value={profile}
        onInput={setProfile}
        errors={at('profile')}
        help={t('liaisons.profilAide')}
      />
      <TextField
        id={`${prefix}-planification`}
        label={t('liaisons.planification')}
        value={schedule}
        onInput={setSchedule}
        errors={at('schedule')}
        help={t('liaisons.planificationAide')}
      />
      <Checkbox
        id={`${prefix}-test`}
        label={t('liaisons.test')}
        checked={isTest}
        onChange={setIsTest}
        help={t('liaisons.testAide')}
      />
      {!editing && (
        <Checkbox
          id={`${prefix}-active`}
          label={t('liaisons.activerDesLaCreation')}
          checked={enabled}
          onChange={setEnabled}
          help={t('liaisons.activerAide')}
        />
      )}
      {connectors.error && <p class="notice-warn">{t('liaisons.connecteursIndisponibles')}</p>}
      {connector !== '' && (connectors.data || connectors.error) && (
        <>
          <SchemaForm
            key={`config-${connector}`}
            legend={t('liaisons.configuration')}
            idPrefix={`${prefix}-config`}
            schema={info?.configSchema ?? {}}
            value={config}
            onChange={setConfig}
            errors={fieldErrors(issues, 'body.config')}
            labelOf={fieldLabel}
          />
          {(info?.secretsSchema || connectors.error) && (
            <>
              <SchemaForm
                key={`secrets-${connector}`}
                legend={t('liaisons.identifiants')}
                idPrefix={`${prefix}-secrets`}
                schema={info?.secretsSchema ?? {}}
                value={secrets}
                onChange={setSecrets}
                errors={fieldErrors(issues, 'body.secrets')}
                labelOf={fieldLabel}
              />
              <p class="help">
                {t('liaisons.identifiantsAide')}
                {editing &&
                  ` ${t('liaisons.identifiantsEnregistres')} : ${editing.hasSecrets ? t('commun.oui') : t('commun.non')}.`}
              </p>
            </>
          )}
        </>
      )}
      {connectors.loading && !connectors.data && !connectors.error && <Loading />}
      <div class="form-actions">
        <button type="submit" disabled={saving}>
          {editing ? t('commun.enregistrer') : t('liaisons.creer')}
        </button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          {t('commun.annuler')}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// The list

export function Links(props: PageProps) {
  const { session, practices, practiceId } = useConsole();
  const creating = props.search.get('creer') === '1';
  const load = useLoad(async () => {
    const { items } = await getJson<{ items: Link[] }>(`/api/v1/links${query({ practiceId })}`);
    const statuses = await Promise.all(
      items.map((l) =>
        getJson<LinkStatus>(`/api/v1/links/${encodeURIComponent(l.id)}/status`).catch(() => null),
      ),
    );
    return items.map((link, i) => ({ link, status: statuses[i] ?? null }));
  }, [practiceId]);
  useChanges(practiceId, [], load.reload);
  const practiceName = (id: string) => practices.find((p) => p.id === id)?.name ?? id;
  const canEdit = can(session, 'integrator');
  return (
    <>
      <PageHeader title={t('liaisons.titre')} intro={t('liaisons.intro')}>
        {canEdit && !creating && (
          <button type="button" onClick={() => setSearch({ creer: '1' })}>
            {t('liaisons.nouvelle')}
          </button>
        )}
      </PageHeader>
      {canEdit && creating && (
        <LinkForm
          practices={practices}
          practiceId={practiceId}
          onSaved={(l) => navigate(`/liaisons/${encodeURIComponent(l.id)}?creee=1`)}
          onCancel={() => setSearch({ creer: null })}
        />
      )}
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {!load.data && !load.error && <Loading />}
      {load.data?.length === 0 && <p>{t('liaisons.aucune')}</p>}
      {load.data && load.data.length > 0 && (
        <table class="links">
          <caption>{t('liaisons.titre')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('liaisons.nom')}</th>
              {practiceId === null && <th scope="col">{t('liaisons.cabinet')}</th>}
              <th scope="col">{t('liaisons.connecteur')}</th>
              <th scope="col">{t('liaisons.role')}</th>
              <th scope="col">{t('liaisons.etat')}</th>
              <th scope="col">{t('liaisons.active')}</th>
              <th scope="col">{t('liaisons.colonneTest')}</th>
            </tr>
          </thead>
          <tbody>
            {load.data.map(({ link, status }) => (
              <tr
                key={link.id}
                data-link={link.id}
                class={status?.state === 'failed' ? 'attention' : undefined}
              >
                <td>
                  <a href={`${BASE}/liaisons/${encodeURIComponent(link.id)}`}>{link.name}</a>
                  <div class="muted">
                    <code>{link.id}</code>
                  </div>
                </td>
                {practiceId === null && <td>{practiceName(link.practiceId)}</td>}
                <td>{connectorLabel(link.connector)}</td>
                <td>{roleLabel(link.role)}</td>
                <td>
                  <StateBadge state={status?.state} />
                </td>
                <td>{link.enabled ? t('liaisons.activeOui') : t('liaisons.activeNon')}</td>
                <td>
                  {link.isTest ? (
                    <Badge tone="warn">{t('liaisons.testBadge')}</Badge>
                  ) : (
                    t('liaisons.production')
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// One link

interface CheckLine {
  readonly kind: 'ok' | 'missing' | 'optional' | 'text';
  readonly text: string;
}

/**
 * POST /api/v1/links/:id/test, as a checklist: structured items when the answer has them
 * (`items` of {label, ok, required, detail} or `checks` of {name, ok, detail}), else the
 * connector's printed checklist (`text`, one ✓ / ✗ / – per line).
 */
export function checklistOf(body: unknown): { ok: boolean | null; lines: CheckLine[] } {
  if (!isObj(body)) return { ok: null, lines: [] };
  const ok = typeof body['ok'] === 'boolean' ? body['ok'] : null;
  const items = [body['items'], body['checks']].find(Array.isArray) as unknown[] | undefined;
  if (items?.length) {
    return {
      ok,
      lines: items.filter(isObj).map((i) => {
        const label = String(i['label'] ?? i['name'] ?? '');
        const detail = typeof i['detail'] === 'string' ? ` — ${i['detail']}` : '';
        const kind = i['ok'] === true ? 'ok' : i['required'] === false ? 'optional' : 'missing';
        return { kind, text: `${label}${detail}` };
      }),
    };
  }
  const text = typeof body['text'] === 'string' ? body['text'] : '';
  const lines: CheckLine[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l) continue;
    const mark = l[0];
    if (mark === '✓') lines.push({ kind: 'ok', text: l.slice(1).trim() });
    else if (mark === '✗') lines.push({ kind: 'missing', text: l.slice(1).trim() });
    else if (mark === '–') lines.push({ kind: 'optional', text: l.slice(1).trim() });
    else lines.push({ kind: 'text', text: l });
  }
  return { ok, lines };
}

function Checklist(props: { result: { ok: boolean | null; lines: CheckLine[] } }) {
  const { ok, lines } = props.result;
  return (
    <section class="test-result" aria-labelledby="resultat-test">
      <h2 id="resultat-test">{t('liaisons.resultatTest')}</h2>
      {ok !== null && (
        <p>
          <Badge tone={ok ? 'ok' : 'bad'}>{ok ? t('liaisons.testReussi') : t('liaisons.testEchoue')}</Badge>
        </p>
      )}
      <ul class="checklist">
        {lines.map((l, i) =>
          l.kind === 'text' ? (
            <li key={i} class="check-text">
              {l.text}
            </li>
          ) : (
            <li key={i} class={`check-${l.kind}`}>
              <Badge tone={l.kind === 'ok' ? 'ok' : l.kind === 'missing' ? 'bad' : 'neutral'}>
                {l.kind === 'ok' ? '✓ ' : l.kind === 'missing' ? '✗ ' : '– '}
                {t(
                  l.kind === 'ok'
                    ? 'liaisons.pointOk'
                    : l.kind === 'missing'
                      ? 'liaisons.pointManquant'
                      : 'liaisons.pointOptionnel',
                )}
              </Badge>{' '}
              {l.text}
            </li>
          ),
        )}
      </ul>
    </section>
  );
}

function StatusBlock(props: { status: LinkStatus }) {
  const s = props.status;
  const outbox = Object.values(s.outbox).reduce((n, v) => n + v, 0);
  return (
    <section aria-labelledby="fonctionnement">
      <h2 id="fonctionnement">{t('liaisons.statut')}</h2>
      <dl class="props">
        <dt>{t('liaisons.etat')}</dt>
        <dd>
          <StateBadge state={s.state} />
          {s.errorCode && (
            <span class="reason">
              {' '}
              {t('liaisons.raison')} : <code>{s.errorCode}</code>
            </span>
          )}
          {s.errors.length > 0 && (
            <ul>
              {s.errors.map((e) => (
                <li key={`${e.path}:${e.message}`}>
                  <code>{e.path}</code> : {e.message}
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>{t('liaisons.demarreeLe')}</dt>
        <dd>{formatDateTime(s.startedAt)}</dd>
        <dt>{t('liaisons.dernierSucces')}</dt>
        <dd>{formatDateTime(s.lastSuccessAt)}</dd>
        <dt>{t('liaisons.dernierEnvoi')}</dt>
        <dd>{formatDateTime(s.lastPushAt)}</dd>
        <dt>{t('liaisons.retardInterrogation')}</dt>
        <dd>{formatDuration(s.pollLagSeconds)}</dd>
        <dt>{t('liaisons.retardEnvoi')}</dt>
        <dd>{formatDuration(s.outboxLagSeconds)}</dd>
        <dt>{t('liaisons.fileEnvoi')}</dt>
        <dd>{formatNumber(outbox)}</dd>
        <dt>{t('liaisons.lettresMortes')}</dt>
        <dd>{formatNumber(s.deadLetters)}</dd>
        <dt>{t('liaisons.prochaineInterrogation')}</dt>
        <dd>{formatDateTime(s.nextPollAt)}</dd>
        <dt>{t('liaisons.sante')}</dt>
        <dd>
          {s.health ? (
            <ul class="checklist">
              {s.health.checks.map((c) => (
                <li key={c.name}>
                  <Badge tone={c.ok ? 'ok' : 'bad'}>
                    {c.ok ? `✓ ${t('liaisons.pointOk')}` : `✗ ${t('commun.erreur')}`}
                  </Badge>{' '}
                  {c.name}
                  {c.detail && ` — ${c.detail}`}
                </li>
              ))}
            </ul>
          ) : (
            t('liaisons.santeInconnue')
          )}
        </dd>
      </dl>
      {s.cursors.length > 0 && (
        <table>
          <caption>{t('liaisons.curseurs')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('liaisons.flux')}</th>
              <th scope="col">{t('liaisons.curseur')}</th>
              <th scope="col">{t('liaisons.dernierSucces')}</th>
              <th scope="col">{t('liaisons.derniereErreur')}</th>
            </tr>
          </thead>
          <tbody>
            {s.cursors.map((c) => (
              <tr key={c.stream}>
                <td>{c.stream}</td>
                <td>
                  {/* A cursor may be a long JSON document: its start says enough. */}
                  <code class="wrap" title={c.cursor ?? undefined}>
                    {c.cursor === null ? '—' : c.cursor.length > 80 ? `${c.cursor.slice(0, 80)}…` : c.cursor}
                  </code>
                </td>
                <td>{formatDateTime(c.lastSuccessAt)}</td>
                <td>{c.lastError ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** `{ a: { b: 1 } }` → [['a.b', '1']]: a link's settings as rows. */
function flatten(value: JsonValue, prefix = ''): [string, string][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as JsonObject).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
  }
  return [
    [
      prefix,
      Array.isArray(value)
        ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')
        : String(value),
    ],
  ];
}

interface PractitionerMapping {
  readonly localId: string;
  readonly status: 'open' | 'mapped';
  readonly practitionerId: string | null;
  readonly proposal: Readonly<Record<string, unknown>> | null;
  readonly resolution: 'existing' | 'rpps' | 'created' | null;
  readonly resolvedBy: string | null;
  readonly held: number;
  readonly resolvedAt: string | null;
}

/** A proposal's name (FHIR HumanName), as the link sent it: « Claire EXEMPLAIRE ». */
function proposalName(p: PractitionerMapping['proposal']): string {
  const name = (p?.['name'] as { family?: string; given?: string[] }[] | undefined)?.[0];
  const rpps = (p?.['identifier'] as { value?: string }[] | undefined)?.map((i) => i.value).filter(Boolean);
  const text = [name?.given?.join(' '), name?.family].filter(Boolean).join(' ');
  return [text, rpps?.length ? `RPPS ${rpps.join(', ')}` : ''].filter(Boolean).join(' — ') || '—';
}

function ResolveForm(props: {
  linkId: string;
  m: PractitionerMapping;
  known: readonly PractitionerItem[];
  onDone: (msg: string) => void;
}) {
  const [practitionerId, setPractitionerId] = useState('');
  const [rpps, setRpps] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const base = `/api/v1/links/${encodeURIComponent(props.linkId)}/practitioner-mappings/${encodeURIComponent(props.m.localId)}/resolve`;
  const idp = `pm-${props.m.localId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const resolve = async (body: JsonObject) => {
    setError(null);
    try {
      const r = await sendJson<{ released: string[] }>('POST', base, { body });
      props.onDone(t('liaisons.associeOk', { local: props.m.localId, n: r.released.length }));
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
  };
  return (
    <div class="resolve">
      {error && <ErrorBox error={error} />}
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void resolve({ practitionerId: practitionerId.trim() });
        }}
      >
        <label for={`${idp}-id`}>{t('liaisons.associerExistant')}</label>
        <select
          id={`${idp}-id`}
          value={practitionerId}
          onChange={(e) => setPractitionerId((e.target as HTMLSelectElement).value)}
        >
          <option value="">{t('conflits.choisir')}</option>
          {props.known.map((p) => (
            <option key={p.id} value={p.id}>
              {practitionerLabel(p)}
            </option>
          ))}
        </select>
        <button type="submit" class="secondary" disabled={practitionerId.trim() === ''}>
          {t('liaisons.associer')}
        </button>
      </form>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void resolve({ rpps: rpps.trim() });
        }}
      >
        <label for={`${idp}-rpps`}>{t('liaisons.associerRpps')}</label>
        <input
          id={`${idp}-rpps`}
          inputMode="numeric"
          value={rpps}
          onInput={(e) => setRpps((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="secondary" disabled={rpps.trim() === ''}>
          {t('liaisons.associer')}
        </button>
      </form>
      <button type="button" class="secondary" onClick={() => void resolve({ create: true })}>
        {t('liaisons.creerPraticien')}
      </button>
    </div>
  );
}

function PractitionerMappings(props: { linkId: string; practiceId: string }) {
  const practitioners = usePractitioners(props.practiceId);
  const known = practitioners.data?.items ?? [];
  const load = useLoad(
    () =>
      getJson<{ items: PractitionerMapping[] }>(
        `/api/v1/links/${encodeURIComponent(props.linkId)}/practitioner-mappings`,
      ),
    [props.linkId],
  );
  const [done, setDone] = useState<string | null>(null);
  return (
    <section aria-labelledby="praticiens">
      <h2 id="praticiens">{t('liaisons.praticiens')}</h2>
      <p class="help">{t('liaisons.praticiensIntro')}</p>
      {done && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      {load.error && <ErrorBox error={load.error} retry={load.reload} />}
      {load.data?.items.length === 0 && <p>{t('liaisons.praticiensAucun')}</p>}
      {load.data && load.data.items.length > 0 && (
        <table>
          <caption>{t('liaisons.praticiens')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('liaisons.idLocal')}</th>
              <th scope="col">{t('liaisons.propose')}</th>
              <th scope="col">{t('liaisons.statutCorrespondance')}</th>
              <th scope="col">{t('liaisons.praticien')}</th>
              <th scope="col" class="num">
                {t('liaisons.retenus')}
              </th>
              <th scope="col">{t('liaisons.decider')}</th>
            </tr>
          </thead>
          <tbody>
            {load.data.items.map((m) => (
              <tr
                key={m.localId}
                data-local={m.localId}
                class={m.status === 'open' ? 'attention' : undefined}
              >
                <td>
                  <code>{m.localId}</code>
                </td>
                <td>{proposalName(m.proposal)}</td>
                <td>
                  <Badge tone={m.status === 'open' ? 'warn' : 'ok'}>
                    {m.status === 'open' ? t('liaisons.ouvert') : t('liaisons.associe')}
                  </Badge>
                  {m.resolution && <div class="muted">{t(`liaisons.resolutions.${m.resolution}`)}</div>}
                </td>
                <td>{m.practitionerId ? practitionerName(known, m.practitionerId) : '—'}</td>
                <td class="num">{formatNumber(m.held)}</td>
                <td>
                  {m.status === 'open' ? (
                    <ResolveForm
                      linkId={props.linkId}
                      m={m}
                      known={known}
                      onDone={(msg) => {
                        setDone(msg);
                        load.reload();
                        practitioners.reload();
                      }}
                    />
                  ) : (
                    formatDateTime(m.resolvedAt)
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function LinkDetail(props: PageProps) {
  const { session, practices } = useConsole();
  const linkId = props.params['id'] ?? '';
  const path = `/api/v1/links/${encodeURIComponent(linkId)}`;
  const link = useLoad(() => getJson<Link>(path), [linkId]);
  const status = useLoad(() => getJson<LinkStatus>(`${path}/status`), [linkId]);
  const [editing, setEditing] = useState(false);
  const [notice, setNotice] = useState<string | null>(
    props.search.get('creee') === '1' ? t('liaisons.creee') : null,
  );
  const [actionError, setActionError] = useState<Error | null>(null);
  const [testing, setTesting] = useState(false);
  const [test, setTest] = useState<{ ok: boolean | null; lines: CheckLine[] } | null>(null);
  const l = link.data;
  useChanges(l?.practiceId ?? null, [], () => {
    link.reload();
    status.reload();
  });
  const canEdit = can(session, 'integrator');

  const toggle = async () => {
    if (!l) return;
    setActionError(null);
    try {
      await sendJson<Link>('PATCH', path, { body: { enabled: !l.enabled } });
      setNotice(l.enabled ? t('liaisons.desactivee') : t('liaisons.activee'));
      link.reload();
      status.reload();
    } catch (e) {
      setActionError(e instanceof Error ? e : new Error(String(e)));
    }
  };
  const runTest = async () => {
    setActionError(null);
    setTest(null);
    setTesting(true);
    try {
      setTest(checklistOf(await sendJson<unknown>('POST', `${path}/test`)));
    } catch (e) {
      setActionError(e instanceof Error ? e : new Error(String(e)));
    } finally {
      setTesting(false);
    }
  };

  return (
    <>
      <PageHeader title={l ? `${t('liaisons.titreDetail')} « ${l.name} »` : t('liaisons.titreDetail')}>
        {l && canEdit && (
          <>
            <button type="button" onClick={() => void runTest()} disabled={testing}>
              {testing ? t('liaisons.testEnCours') : t('liaisons.tester')}
            </button>
            <button type="button" class="secondary" onClick={() => void toggle()}>
              {l.enabled ? t('liaisons.desactiver') : t('liaisons.activer')}
            </button>
            {!editing && (
              <button type="button" class="secondary" onClick={() => setEditing(true)}>
                {t('liaisons.modifier')}
              </button>
            )}
          </>
        )}
      </PageHeader>
      <p>
        <a href={`${BASE}/liaisons`}>{t('liaisons.retourListe')}</a>
      </p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {actionError && <ErrorBox error={actionError} />}
      {link.error && <ErrorBox error={link.error} retry={link.reload} />}
      {!l && !link.error && <Loading />}
      {testing && (
        <p class="loading" role="status">
          {t('liaisons.testEnCours')}
        </p>
      )}
      {test && <Checklist result={test} />}
      {l && editing && canEdit && (
        <LinkForm
          key={l.version}
          link={l}
          practices={practices}
          practiceId={l.practiceId}
          onSaved={() => {
            setEditing(false);
            setNotice(t('liaisons.enregistree'));
            link.reload();
            status.reload();
          }}
          onCancel={() => setEditing(false)}
        />
      )}
      {l && (
        <section aria-labelledby="parametres">
          <h2 id="parametres">{t('liaisons.parametres')}</h2>
          <dl class="props">
            <dt>{t('liaisons.identifiant')}</dt>
            <dd>
              <code>{l.id}</code>
            </dd>
            <dt>{t('liaisons.cabinet')}</dt>
            <dd>{practices.find((p) => p.id === l.practiceId)?.name ?? l.practiceId}</dd>
            <dt>{t('liaisons.connecteur')}</dt>
            <dd>{connectorLabel(l.connector)}</dd>
            <dt>{t('liaisons.role')}</dt>
            <dd>{roleLabel(l.role)}</dd>
            <dt>{t('liaisons.active')}</dt>
            <dd data-enabled={String(l.enabled)}>
              {l.enabled ? t('liaisons.activeOui') : t('liaisons.activeNon')}
            </dd>
            <dt>{t('liaisons.test')}</dt>
            <dd>{l.isTest ? t('commun.oui') : t('commun.non')}</dd>
            <dt>{t('liaisons.profil')}</dt>
            <dd>{l.profile ?? '—'}</dd>
            <dt>{t('liaisons.planification')}</dt>
            <dd>{l.schedule ?? '—'}</dd>
            <dt>{t('liaisons.identifiantsEnregistres')}</dt>
            <dd>{l.hasSecrets ? t('commun.oui') : t('commun.non')}</dd>
            <dt>{t('liaisons.creeeLe')}</dt>
            <dd>{formatDateTime(l.createdAt)}</dd>
            <dt>{t('liaisons.modifieeLe')}</dt>
            <dd>
              {formatDateTime(l.updatedAt)} ({t('liaisons.version')} {l.version})
            </dd>
          </dl>
          {Object.keys(l.config).length === 0 ? (
            <p>{t('liaisons.configurationVide')}</p>
          ) : (
            <table>
              <caption>{t('liaisons.configuration')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('liaisons.cle')}</th>
                  <th scope="col">{t('liaisons.valeur')}</th>
                </tr>
              </thead>
              <tbody>
                {flatten(l.config).map(([k, v]) => (
                  <tr key={k}>
                    <th scope="row">
                      <code>{k}</code>
                    </th>
                    <td>
                      <code class="wrap">{v}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
      {status.error && !link.error && <ErrorBox error={status.error} retry={status.reload} />}
      {status.data && <StatusBlock status={status.data} />}
      {l && canEdit && <PractitionerMappings linkId={l.id} practiceId={l.practiceId} />}
    </>
  );
}
