/**
 * A form generated from a JSON Schema (draft 2020-12, as zod's `z.toJSONSchema` writes a
 * connector's config schema): objects are fieldsets, strings, numbers, booleans and enums are
 * inputs, checkboxes and selects, arrays of scalars are one value per line, a union of objects
 * told apart by a constant (`auth.type`) is a select that shows the chosen variant's fields.
 * Anything else (arrays of objects, maps) is edited as JSON.
 *
 * Secret fields (`writeOnly`) are password inputs that are never prefilled: the caller starts
 * them empty, and an empty secret means « unchanged ». Values left empty are left out, so the
 * server applies its defaults; the server validates (the form sets `noValidate`) and its issues
 * come back through `errors`, keyed by the dotted path of the field (`mllp.listen.port`).
 */
import { useState } from 'preact/hooks';

import { t } from '../i18n/index.js';

export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly title?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly enum?: readonly (string | number | boolean | null)[];
  readonly const?: string | number | boolean | null;
  readonly oneOf?: readonly JsonSchema[];
  readonly anyOf?: readonly JsonSchema[];
  readonly default?: unknown;
  readonly writeOnly?: boolean;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
}

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** Messages per field, by dotted path from the form's root (`mllp.listen.port`). */
export type FieldErrors = Readonly<Record<string, readonly string[]>>;

/** A field's label in the reader's language, from its path (`['auth', 'username']`); undefined: its key. */
export type LabelOf = (path: readonly string[]) => string | undefined;

interface Ctx {
  readonly idPrefix: string;
  readonly errors: FieldErrors;
  readonly labelOf: LabelOf;
  readonly disabled: boolean;
  readonly root: JsonObject;
  readonly set: (path: readonly string[], value: JsonValue | undefined) => void;
}

/** The issues of an API error under `prefix` (`body.config`), keyed by the rest of their path. */
export function fieldErrors(
  issues: readonly { readonly path: string; readonly message: string }[],
  prefix: string,
): FieldErrors {
  const out: Record<string, string[]> = {};
  for (const i of issues) {
    if (i.path !== prefix && !i.path.startsWith(`${prefix}.`)) continue;
    const key = i.path.slice(prefix.length + 1);
    (out[key] ??= []).push(i.message);
  }
  return out;
}

/** The value without empty strings, empty arrays and empty objects: what is sent. */
export function prune(value: JsonValue | undefined): JsonValue | undefined {
  if (value === undefined || value === '') return undefined;
  if (Array.isArray(value)) {
    const items = (value as readonly JsonValue[])
      .map((v) => prune(v))
      .filter((v): v is JsonValue => v !== undefined);
    return items.length ? items : undefined;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as JsonObject)
      .map(([k, v]) => [k, prune(v)] as const)
      .filter((e): e is readonly [string, JsonValue] => e[1] !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return value;
}

function setAt(
  root: JsonValue | undefined,
  path: readonly string[],
  value: JsonValue | undefined,
): JsonObject {
  const base: Record<string, JsonValue> =
    root !== null && typeof root === 'object' && !Array.isArray(root) ? { ...(root as JsonObject) } : {};
  const [head, ...rest] = path;
  if (head === undefined) return base;
  const next = rest.length ? setAt(base[head], rest, value) : value;
  if (next === undefined) delete base[head];
  else base[head] = next;
  return base;
}

function getAt(root: JsonValue | undefined, path: readonly string[]): JsonValue | undefined {
  let node: JsonValue | undefined = root;
  for (const p of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as JsonObject)[p];
  }
  return node;
}

function typesOf(s: JsonSchema): readonly string[] {
  return s.type === undefined ? [] : typeof s.type === 'string' ? [s.type] : s.type;
}

/** `X | null` (zod's `.nullable()`: anyOf [X, {type: null}]) is edited as X. */
function unwrapNullable(s: JsonSchema): JsonSchema {
  const alts = s.anyOf ?? s.oneOf;
  if (alts && alts.length === 2) {
    const notNull = alts.filter((a) => !typesOf(a).includes('null') || typesOf(a).length > 1);
    if (notNull.length === 1 && notNull[0])
      return { ...notNull[0], ...(s.default !== undefined && { default: s.default }) };
  }
  return s;
}

/** The constant that tells a union's object variants apart (`type`), if there is one. */
function discriminator(variants: readonly JsonSchema[]): string | null {
  const first = variants[0]?.properties;
  if (!first) return null;
  for (const key of Object.keys(first))
    if (variants.every((v) => v.properties?.[key]?.const !== undefined)) return key;
  return null;
}

function enumOf(s: JsonSchema): readonly (string | number | boolean | null)[] | null {
  if (s.enum) return s.enum;
  const alts = s.oneOf ?? s.anyOf;
  if (alts?.length && alts.every((a) => a.const !== undefined)) return alts.map((a) => a.const ?? null);
  return null;
}

type Kind = 'object' | 'union' | 'enum' | 'boolean' | 'number' | 'string' | 'lines' | 'json';

function kindOf(s: JsonSchema): Kind {
  if (enumOf(s)) return 'enum';
  const alts = s.oneOf ?? s.anyOf;
  if (alts && discriminator(alts)) return 'union';
  const types = typesOf(s);
  if (types.includes('object') && s.properties) return 'object';
  if (types.includes('boolean')) return 'boolean';
  if (types.includes('integer') || types.includes('number')) return 'number';
  if (types.includes('string')) return 'string';
  if (types.includes('array') && s.items) {
    const item = unwrapNullable(s.items);
    const k = kindOf(item);
    if (k === 'string' || k === 'number' || k === 'enum') return 'lines';
  }
  return 'json';
}

const idOf = (ctx: Ctx, path: readonly string[]) =>
  `${ctx.idPrefix}-${path.join('-').replace(/[^A-Za-z0-9_-]/g, '_')}`;

function shown(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The help under a field: its description, its default, its bounds, what a secret field means. */
function helpOf(s: JsonSchema, extra?: string): string | null {
  const parts: string[] = [];
  if (s.description) parts.push(s.description);
  if (s.writeOnly) parts.push(t('schemaForm.secretAide'));
  if (s.default !== undefined && (typeof s.default !== 'object' || Array.isArray(s.default)))
    parts.push(
      t('schemaForm.parDefaut', {
        valeur:
          typeof s.default === 'boolean'
            ? t(s.default ? 'commun.oui' : 'commun.non')
            : Array.isArray(s.default)
              ? s.default.join(', ')
              : shown(s.default),
      }),
    );
  if (s.minimum !== undefined && s.maximum !== undefined)
    parts.push(t('schemaForm.entre', { min: s.minimum, max: s.maximum }));
  else if (s.minimum !== undefined) parts.push(t('schemaForm.auMoins', { min: s.minimum }));
  else if (s.maximum !== undefined) parts.push(t('schemaForm.auPlus', { max: s.maximum }));
  if (extra) parts.push(extra);
  return parts.length ? parts.join(' ') : null;
}

function FieldShell(props: {
  ctx: Ctx;
  path: readonly string[];
  schema: JsonSchema;
  required: boolean;
  help?: string | null;
  extraErrors?: readonly string[];
  inline?: boolean;
  render: (a: { id: string; describedBy: string | undefined; invalid: boolean }) => preact.JSX.Element;
}) {
  const { ctx, path, schema } = props;
  const id = idOf(ctx, path);
  const errors = [...(ctx.errors[path.join('.')] ?? []), ...(props.extraErrors ?? [])];
  const help = props.help === undefined ? helpOf(schema) : props.help;
  const key = path[path.length - 1] ?? path.join('.');
  const label = ctx.labelOf(path) ?? schema.title ?? key;
  const describedBy = [errors.length ? `${id}-erreur` : null, help ? `${id}-aide` : null]
    .filter(Boolean)
    .join(' ');
  const labelEl = (
    <label for={id}>
      {label}
      {key && label !== key && (
        <>
          {' '}
          <code class="field-key">{key}</code>
        </>
      )}
      {props.required && <span class="required"> {t('schemaForm.obligatoire')}</span>}
    </label>
  );
  const control = props.render({ id, describedBy: describedBy || undefined, invalid: errors.length > 0 });
  return (
    <div class={`field${props.inline ? ' field-inline' : ''}${errors.length ? ' field-invalid' : ''}`}>
      {props.inline ? (
        <div class="check">
          {control}
          {labelEl}
        </div>
      ) : (
        <>
          {labelEl}
          {control}
        </>
      )}
      {errors.length > 0 && (
        <p class="field-error" id={`${id}-erreur`}>
          {errors.join(' ; ')}
        </p>
      )}
      {help && (
        <p class="help" id={`${id}-aide`}>
          {help}
        </p>
      )}
    </div>
  );
}

function StringField(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const { ctx, path, schema } = props;
  // A stored secret comes back masked (`********`): the field starts empty and, left empty, keeps
  // sending the mask, which the API reads as « unchanged ».
  const [stored] = useState(() => getAt(ctx.root, path));
  const initial = schema.writeOnly ? '' : stored;
  const [text, setText] = useState(
    typeof initial === 'string' ? initial : initial === undefined ? '' : shown(initial),
  );
  return (
    <FieldShell
      {...props}
      render={(a) => (
        <input
          id={a.id}
          name={path.join('.')}
          type={schema.writeOnly ? 'password' : 'text'}
          inputMode={schema.format === 'uri' ? 'url' : undefined}
          autoComplete={schema.writeOnly ? 'new-password' : 'off'}
          spellcheck={false}
          value={text}
          disabled={ctx.disabled}
          aria-invalid={a.invalid || undefined}
          aria-describedby={a.describedBy}
          aria-required={props.required || undefined}
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setText(v);
            ctx.set(path, v !== '' ? v : schema.writeOnly ? stored : undefined);
          }}
        />
      )}
    />
  );
}

function NumberField(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const { ctx, path } = props;
  const initial = getAt(ctx.root, path);
  const [text, setText] = useState(initial === undefined ? '' : shown(initial));
  return (
    <FieldShell
      {...props}
      render={(a) => (
        <input
          id={a.id}
          name={path.join('.')}
          type="text"
          inputMode="numeric"
          class="number"
          value={text}
          disabled={ctx.disabled}
          aria-invalid={a.invalid || undefined}
          aria-describedby={a.describedBy}
          aria-required={props.required || undefined}
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setText(v);
            const trimmed = v.trim().replace(/\s/g, '').replace(',', '.');
            // Not a number: sent as typed, so the server names the field and why.
            ctx.set(
              path,
              trimmed === '' ? undefined : Number.isFinite(Number(trimmed)) ? Number(trimmed) : v,
            );
          }}
        />
      )}
    />
  );
}

function BooleanField(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const { ctx, path, schema } = props;
  const v = getAt(ctx.root, path);
  const checked = typeof v === 'boolean' ? v : schema.default === true;
  return (
    <FieldShell
      {...props}
      inline
      required={false}
      render={(a) => (
        <input
          id={a.id}
          name={path.join('.')}
          type="checkbox"
          checked={checked}
          disabled={ctx.disabled}
          aria-invalid={a.invalid || undefined}
          aria-describedby={a.describedBy}
          onChange={(e) => ctx.set(path, (e.target as HTMLInputElement).checked)}
        />
      )}
    />
  );
}

function EnumField(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const { ctx, path, schema } = props;
  const values = enumOf(schema) ?? [];
  const v = getAt(ctx.root, path);
  const current = v === undefined ? '' : shown(v);
  return (
    <FieldShell
      {...props}
      render={(a) => (
        <select
          id={a.id}
          name={path.join('.')}
          value={current}
          disabled={ctx.disabled}
          aria-invalid={a.invalid || undefined}
          aria-describedby={a.describedBy}
          aria-required={props.required || undefined}
          onChange={(e) => {
            const s = (e.target as HTMLSelectElement).value;
            ctx.set(path, s === '' ? undefined : (values.find((x) => shown(x) === s) ?? s));
          }}
        >
          <option value="">
            {schema.default !== undefined
              ? t('schemaForm.optionParDefaut', { valeur: shown(schema.default) })
              : t('schemaForm.optionAucune')}
          </option>
          {values.map((x) => (
            <option key={shown(x)} value={shown(x)}>
              {shown(x)}
            </option>
          ))}
        </select>
      )}
    />
  );
}

function LinesField(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const { ctx, path, schema } = props;
  const item = unwrapNullable(schema.items ?? {});
  const numeric = kindOf(item) === 'number';
  const initial = getAt(ctx.root, path);
  const [text, setText] = useState(Array.isArray(initial) ? initial.map(shown).join('\n') : '');
  const allowed = enumOf(item);
  return (
    <FieldShell
      {...props}
      help={helpOf(
        schema,
        [
          t('schemaForm.uneParLigne'),
          allowed ? t('schemaForm.valeursPossibles', { valeurs: allowed.join(', ') }) : '',
        ]
          .filter(Boolean)
          .join(' '),
      )}
      render={(a) => (
        <textarea
          id={a.id}
          name={path.join('.')}
          rows={Math.min(8, Math.max(3, text.split('\n').length + 1))}
          value={text}
          disabled={ctx.disabled}
          spellcheck={false}
          aria-invalid={a.invalid || undefined}
          aria-describedby={a.describedBy}
          onInput={(e) => {
            const v = (e.target as HTMLTextAreaElement).value;
            setText(v);
            const items = v
              .split('\n')
              .map((l) => l.trim())
              .filter(Boolean)
              .map((l) => (numeric && Number.isFinite(Number(l)) ? Number(l) : l));
            ctx.set(path, items.length ? items : undefined);
          }}
        />
      )}
    />
  );
}

function JsonField(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const { ctx, path } = props;
  const initial = path.length ? getAt(ctx.root, path) : ctx.root;
  const [text, setText] = useState(
    initial === undefined || (path.length === 0 && Object.keys(ctx.root).length === 0)
      ? ''
      : JSON.stringify(initial, null, 2),
  );
  const [bad, setBad] = useState(false);
  return (
    <FieldShell
      {...props}
      help={helpOf(props.schema, t('schemaForm.json'))}
      extraErrors={bad ? [t('schemaForm.jsonInvalide')] : []}
      render={(a) => (
        <textarea
          id={a.id}
          name={path.join('.')}
          class="code"
          rows={Math.min(12, Math.max(3, text.split('\n').length + 1))}
          value={text}
          disabled={ctx.disabled}
          spellcheck={false}
          aria-invalid={a.invalid || undefined}
          aria-describedby={a.describedBy}
          onInput={(e) => {
            const v = (e.target as HTMLTextAreaElement).value;
            setText(v);
            if (v.trim() === '') {
              setBad(false);
              ctx.set(path, undefined);
              return;
            }
            try {
              ctx.set(path, JSON.parse(v) as JsonValue);
              setBad(false);
            } catch {
              setBad(true);
            }
          }}
        />
      )}
    />
  );
}

function UnionField(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const { ctx, path, schema } = props;
  const variants = schema.oneOf ?? schema.anyOf ?? [];
  const disc = discriminator(variants) ?? 'type';
  const v = getAt(ctx.root, path);
  const chosenValue =
    (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject)[disc] : undefined) ??
    (schema.default as JsonObject | undefined)?.[disc] ??
    variants[0]?.properties?.[disc]?.const;
  const chosen = variants.find((x) => x.properties?.[disc]?.const === chosenValue) ?? variants[0];
  const discPath = [...path, disc];
  return (
    <fieldset class="schema-object">
      <legend>{ctx.labelOf(path) ?? schema.title ?? path[path.length - 1]}</legend>
      {schema.description && <p class="help">{schema.description}</p>}
      <FieldShell
        ctx={ctx}
        path={discPath}
        schema={{}}
        required={props.required}
        help={null}
        extraErrors={ctx.errors[path.join('.')] ?? []}
        render={(a) => (
          <select
            id={a.id}
            name={discPath.join('.')}
            value={shown(chosenValue)}
            disabled={ctx.disabled}
            aria-invalid={a.invalid || undefined}
            aria-describedby={a.describedBy}
            onChange={(e) => {
              const s = (e.target as HTMLSelectElement).value;
              const next = variants.find((x) => shown(x.properties?.[disc]?.const) === s);
              const c = next?.properties?.[disc]?.const;
              ctx.set(path, c === undefined ? undefined : { [disc]: c });
            }}
          >
            {variants.map((x) => {
              const c = shown(x.properties?.[disc]?.const);
              return (
                <option key={c} value={c}>
                  {c}
                </option>
              );
            })}
          </select>
        )}
      />
      {chosen && <Properties key={shown(chosenValue)} ctx={ctx} path={path} schema={chosen} skip={disc} />}
    </fieldset>
  );
}

function Properties(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; skip?: string }) {
  const { ctx, path, schema } = props;
  const required = new Set(schema.required ?? []);
  return (
    <>
      {Object.entries(schema.properties ?? {})
        .filter(([k]) => k !== props.skip)
        .map(([k, s]) => (
          <Node
            key={k}
            ctx={ctx}
            path={[...path, k]}
            schema={s}
            required={required.has(k) && s.default === undefined}
          />
        ))}
    </>
  );
}

function Node(props: { ctx: Ctx; path: readonly string[]; schema: JsonSchema; required: boolean }) {
  const schema = unwrapNullable(props.schema);
  const p = { ...props, schema };
  switch (kindOf(schema)) {
    case 'object': {
      const key = props.path.join('.');
      const errors = props.ctx.errors[key] ?? [];
      const title = props.ctx.labelOf(props.path) ?? schema.title ?? props.path[props.path.length - 1];
      const fieldset = (
        <fieldset class="schema-object">
          <legend>{title}</legend>
          {schema.description && <p class="help">{schema.description}</p>}
          {errors.length > 0 && <p class="field-error">{errors.join(' ; ')}</p>}
          <Properties ctx={props.ctx} path={props.path} schema={schema} />
        </fieldset>
      );
      if (props.required) return fieldset;
      // An optional group (TLS, file drop) stays folded until it is used or has an error.
      const used =
        getAt(props.ctx.root, props.path) !== undefined ||
        Object.keys(props.ctx.errors).some((k) => k === key || k.startsWith(`${key}.`));
      return (
        <details class="schema-optional" open={used}>
          <summary>
            {title} <span class="required">{t('schemaForm.facultatif')}</span>
          </summary>
          {fieldset}
        </details>
      );
    }
    case 'union':
      return <UnionField {...p} />;
    case 'enum':
      return <EnumField {...p} />;
    case 'boolean':
      return <BooleanField {...p} />;
    case 'number':
      return <NumberField {...p} />;
    case 'string':
      return <StringField {...p} />;
    case 'lines':
      return <LinesField {...p} />;
    case 'json':
      return <JsonField {...p} />;
    default:
      return null;
  }
}

/**
 * The fields of `schema` (an object schema) in a fieldset titled `legend`. The caller keeps the
 * value; give the component a new `key` to reset its fields (after saving, on another connector).
 */
export function SchemaForm(props: {
  readonly schema: JsonSchema;
  readonly value: JsonObject;
  readonly onChange: (value: JsonObject) => void;
  readonly legend: string;
  readonly idPrefix: string;
  readonly errors?: FieldErrors;
  readonly labelOf?: LabelOf;
  readonly disabled?: boolean;
}) {
  const ctx: Ctx = {
    idPrefix: props.idPrefix,
    errors: props.errors ?? {},
    labelOf: props.labelOf ?? (() => undefined),
    disabled: props.disabled ?? false,
    root: props.value,
    set: (path, v) =>
      props.onChange(path.length === 0 ? ((v ?? {}) as JsonObject) : setAt(props.value, path, v)),
  };
  const schema = unwrapNullable(props.schema);
  const kind = kindOf(schema);
  const rootErrors = ctx.errors[''] ?? [];
  return (
    <fieldset class="schema-form">
      <legend>{props.legend}</legend>
      {schema.description && <p class="help">{schema.description}</p>}
      {rootErrors.length > 0 && <p class="field-error">{rootErrors.join(' ; ')}</p>}
      {kind === 'object' ? (
        <Properties ctx={ctx} path={[]} schema={schema} />
      ) : (
        <JsonField
          ctx={{ ...ctx, labelOf: () => t('schemaForm.enJson') }}
          path={[]}
          schema={schema}
          required={false}
        />
      )}
    </fieldset>
  );
}
