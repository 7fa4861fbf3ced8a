/**
 * An HL7 v2 message as a tree a person can read: segments, then fields, then components (each
 * with the path a mapping profile uses, `PID-5[1].2`), collapsible with <details> so the
 * keyboard and screen readers get disclosure for free. Empty fields are left out.
 */
import { t } from '../i18n/index.js';

export interface Hl7TreeComponent {
  readonly path: string;
  readonly value: string;
}
export interface Hl7TreeField {
  readonly path: string;
  readonly encoded: string;
  readonly repetitions: readonly {
    readonly path: string;
    readonly components: readonly Hl7TreeComponent[];
  }[];
}
export interface Hl7TreeSegment {
  readonly name: string;
  readonly occurrence: number;
  readonly path: string;
  readonly fields: readonly Hl7TreeField[];
}

function Components(props: { components: readonly Hl7TreeComponent[] }) {
  return (
    <ul class="hl7-components">
      {props.components.map((c) => (
        <li key={c.path}>
          <code class="hl7-path">{c.path}</code> <span class="hl7-value">{c.value}</span>
        </li>
      ))}
    </ul>
  );
}

function Field({ field }: { field: Hl7TreeField }) {
  const reps = field.repetitions;
  const only = reps.length === 1 ? reps[0] : undefined;
  if (only && only.components.length <= 1) {
    return (
      <li class="hl7-field" data-path={field.path}>
        <code class="hl7-path">{field.path}</code>{' '}
        <span class="hl7-value">{only.components[0]?.value ?? field.encoded}</span>
      </li>
    );
  }
  return (
    <li class="hl7-field" data-path={field.path}>
      <details>
        <summary>
          <code class="hl7-path">{field.path}</code> <code class="hl7-encoded">{field.encoded}</code>
        </summary>
        {only ? (
          <Components components={only.components} />
        ) : (
          <ul class="hl7-repetitions">
            {reps.map((r, i) => (
              <li key={r.path}>
                {t('messages.repetition', { n: i + 1 })} (<code>{r.path}</code>)
                <Components components={r.components} />
              </li>
            ))}
          </ul>
        )}
      </details>
    </li>
  );
}

export function Hl7Tree(props: { segments: readonly Hl7TreeSegment[] }) {
  return (
    <div class="hl7-tree">
      {props.segments.map((seg) => {
        const fields = seg.fields.filter((f) => f.encoded !== '');
        const key = `messages.segments.${seg.name}` as 'messages.segments.MSH';
        const label = t(key);
        const known = label === key ? '' : label;
        return (
          <details key={seg.path} open class="hl7-segment" data-segment={seg.path}>
            <summary>
              <code class="hl7-segment-name">{seg.path}</code>
              {known && ` ${known}`} — {t('messages.champs', { n: fields.length })}
            </summary>
            <ul class="hl7-fields">
              {fields.map((f) => (
                <Field key={f.path} field={f} />
              ))}
            </ul>
          </details>
        );
      })}
    </div>
  );
}
