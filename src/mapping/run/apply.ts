/**
 * The value pipeline shared by both protocols: inbound a protocol value goes through the rule's
 * transforms then its value map and is written at the canonical path (with the rule's `set`
 * companions in the same list item); outbound the canonical value goes back through the map's
 * inverse and the transforms in reverse order.
 */
import type { ErrorCode } from '../../errors.js';
import type { CompiledRule, CompiledValueMap, Scalar } from '../compile/plan.js';
import { ensureContainer, readPath, writePath } from './element-path.js';
import type { FieldReport } from './report.js';
import { type TransformContext, TransformError, type TransformValue } from './transforms.js';

type Obj = Record<string, unknown>;

export class RuleFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface RunState {
  readonly report: FieldReport[];
  readonly flags: Set<string>;
  readonly tctx: TransformContext;
}

const ADDRESS_COUNTRY = /^address(\[[^\]]*\])?\.country$/;

/**
 * The run state for one record with the country of its first address, as the input gives it,
 * in the transform context (a phone number in national form is read in that country's plan,
 * not as French): `readRaw` reads a rule's protocol value. Unchanged when there is none.
 */
export function withCountry(
  st: RunState,
  rules: readonly CompiledRule[],
  readRaw: (rule: CompiledRule) => unknown,
): RunState {
  const rule = rules.find((r) => r.to !== null && ADDRESS_COUNTRY.test(r.to.text));
  const raw = rule ? readRaw(rule) : undefined;
  return typeof raw === 'string' && raw.trim() !== ''
    ? { ...st, tctx: { ...st.tctx, country: raw.trim() } }
    : st;
}

export function mapIn(map: CompiledValueMap, code: string): { value: Scalar; defaulted: boolean } {
  const v = map.codes.get(code) ?? map.folded.get(code.toLowerCase());
  if (v !== undefined) return { value: v, defaulted: false };
  switch (map.unmapped.kind) {
    case 'default':
      return { value: map.unmapped.value, defaulted: true };
    case 'keep':
      return { value: code, defaulted: false };
    case 'error':
      throw new RuleFailure('ERR_MAPPING_UNMAPPED_CODE', `code not in value map ${map.name}`);
    default:
      return map.unmapped satisfies never;
  }
}

export function mapOut(map: CompiledValueMap, value: Scalar): { value: string; defaulted: boolean } {
  const v = map.outbound.get(String(value));
  if (v !== undefined) return { value: v, defaulted: false };
  switch (map.outboundUnmapped.kind) {
    case 'default':
      return { value: map.outboundUnmapped.value, defaulted: true };
    case 'keep':
      return { value: String(value), defaulted: false };
    case 'error':
      throw new RuleFailure(
        'ERR_MAPPING_UNMAPPED_CODE',
        `canonical value has no code in value map ${map.name}`,
      );
    default:
      return map.outboundUnmapped satisfies never;
  }
}

function transformIn(rule: CompiledRule, v: TransformValue, tctx: TransformContext): TransformValue {
  let out = v;
  for (const t of rule.transforms) out = t.in(out, tctx);
  return out;
}

const NO_EXTRA: { code?: ErrorCode; note?: string } = {};

export function report(
  st: RunState,
  rule: CompiledRule,
  status: FieldReport['status'],
  protocolPath: string | null,
  extra = NO_EXTRA,
): void {
  st.report.push({
    rule: rule.label,
    kind: rule.kind,
    protocolPath,
    canonicalPath: rule.to?.text ?? null,
    status,
    code: extra.code,
    note: extra.note,
    ...(rule.origin !== undefined && { profile: rule.origin }),
  });
}

/** One row, always the same shape (one hidden class for the hot path). */
function row(
  st: RunState,
  rule: CompiledRule,
  status: FieldReport['status'],
  protocolPath: string | null,
  note: string | undefined,
): void {
  st.report.push({
    rule: rule.label,
    kind: rule.kind,
    protocolPath,
    canonicalPath: rule.to?.text ?? null,
    status,
    code: undefined,
    note,
    ...(rule.origin !== undefined && { profile: rule.origin }),
  });
}

/**
 * Lenient on structure, strict on identity and time (issue 18): a value that fails its
 * transform or value map rejects the message only when it is an identifier, the patient an
 * appointment is for, the start, or a value the profile marks `required`; any other is dropped
 * (or takes the rule's `default`), the message is flagged `<kind>-<rule>-dropped` and warned,
 * and the rest is applied.
 */
export function isStrict(rule: CompiledRule): boolean {
  if (rule.required) return true;
  const to = rule.to?.text ?? '';
  return (
    to === 'start' ||
    to.startsWith('identifier') ||
    to.startsWith('participant[actor=Patient]') ||
    to === 'subject.reference'
  );
}

/** The flag a dropped value raises: `appointment-status-dropped`, `patient-birth-date-dropped`. */
export function droppedFlag(rule: CompiledRule): string {
  const named = rule.label.includes('.fields[') ? (rule.to?.text ?? rule.label) : rule.label;
  const slug = named
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${rule.kind.toLowerCase()}-${slug}-dropped`;
}

/**
 * Writes one inbound rule's result into `data`. `raw` is the protocol value (undefined when
 * absent); `conditionHolds` is the rule's `when`. Returns false when the rule failed (reported).
 */
export function applyInbound(
  rule: CompiledRule,
  raw: unknown,
  usedPath: string | null,
  conditionHolds: boolean,
  data: Obj,
  st: RunState,
): boolean {
  if (!conditionHolds) {
    if (raw !== undefined && rule.flag) st.flags.add(rule.flag);
    report(st, rule, 'unmapped', usedPath ?? rule.fromText, {
      note:
        raw !== undefined
          ? `dropped: condition not met${rule.flag ? `, flag ${rule.flag}` : ''}`
          : 'condition not met',
    });
    return true;
  }
  let value: unknown;
  let status: FieldReport['status'] = 'mapped';
  let note: string | undefined;
  let code: ErrorCode | undefined;
  try {
    if (raw === undefined) {
      if (rule.from.length === 0 && rule.value !== undefined) {
        value = rule.value;
        note = 'constant';
      } else if (rule.default !== undefined) {
        value = rule.default;
        status = 'defaulted';
        note = 'no value: default';
      } else if (rule.required) {
        report(st, rule, 'error', rule.fromText, {
          code: 'ERR_MAPPING_MISSING_ID',
          note: 'required value missing',
        });
        return false;
      } else {
        row(st, rule, 'unmapped', rule.fromText, 'no value');
        return true;
      }
    } else if (rule.structured) {
      value = raw;
    } else if (rule.value !== undefined) {
      value = rule.value;
      note = 'constant';
    } else {
      let v: TransformValue =
        typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? raw : String(raw);
      v = transformIn(rule, v, st.tctx);
      if (rule.map) {
        const m = mapIn(rule.map, String(v));
        v = m.value;
        if (m.defaulted) {
          // The sender's code is dropped for the map's default (PID-8 "1" → unknown): said, like
          // any dropped value, so that nobody takes the default for what the sender meant.
          const flag = droppedFlag(rule);
          st.flags.add(flag);
          status = 'defaulted';
          code = 'ERR_MAPPING_UNMAPPED_CODE';
          note = `code not in ${rule.map.name}: default`;
        }
      }
      value = v;
    }
  } catch (e) {
    if (e instanceof RuleFailure) code = e.code;
    else if (e instanceof TransformError) code = 'ERR_MAPPING_TRANSFORM';
    else throw e;
    if (isStrict(rule)) {
      report(st, rule, 'error', usedPath ?? rule.fromText, { code, note: e.message });
      return false;
    }
    const flag = droppedFlag(rule);
    st.flags.add(flag);
    if (rule.default === undefined) {
      // The row keeps its code: toCanonicalResult turns it into the message's warning.
      report(st, rule, 'unmapped', usedPath ?? rule.fromText, {
        code,
        note: `dropped: ${e.message}; flag ${flag}`,
      });
      return true;
    }
    value = rule.default;
    status = 'defaulted';
    note = `${e.message}: default; flag ${flag}`;
    if (rule.to) {
      const container = rule.itemSteps.length > 0 ? ensureContainer(data, rule.itemSteps) : data;
      writePath(container, rule.valueSteps, value);
      for (const s of rule.set) writePath(container, s.steps, s.value);
    }
    report(st, rule, status, usedPath ?? rule.fromText, { code, note });
    return true;
  }
  if (rule.to) {
    const container = rule.itemSteps.length > 0 ? ensureContainer(data, rule.itemSteps) : data;
    writePath(container, rule.valueSteps, value);
    for (const s of rule.set) writePath(container, s.steps, s.value);
  }
  // With a code, the row becomes the message's warning (toCanonicalResult).
  if (code !== undefined)
    report(st, rule, status, usedPath ?? rule.fromText, { code, ...(note !== undefined && { note }) });
  else row(st, rule, status, usedPath ?? rule.fromText, note);
  return true;
}

/**
 * The protocol value of one outbound rule, or undefined when the canonical side has none
 * (reported unmapped). Throws RuleFailure / TransformError for the caller to report.
 */
export function outboundValue(
  rule: CompiledRule,
  data: unknown,
  tctx: TransformContext,
): { value: unknown; defaulted: boolean; constant: boolean } | undefined {
  if (rule.value !== undefined && (rule.to === null || rule.from.length > 0))
    return { value: rule.value, defaulted: false, constant: true };
  if (!rule.to) return undefined;
  const v = readPath(data, rule.to.steps);
  if (v === undefined) return undefined;
  if (rule.structured) return { value: v, defaulted: false, constant: false };
  let out: TransformValue =
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
  let defaulted = false;
  if (rule.map) {
    const m = mapOut(rule.map, out);
    out = m.value;
    defaulted = m.defaulted;
  }
  for (let i = rule.transforms.length - 1; i >= 0; i--)
    out = (rule.transforms[i] as (typeof rule.transforms)[number]).out(out, tctx);
  return { value: out, defaulted, constant: false };
}

/** Reports an outbound failure from RuleFailure / TransformError; rethrows anything else. */
export function reportFailure(st: RunState, rule: CompiledRule, e: unknown): void {
  if (e instanceof RuleFailure) report(st, rule, 'error', rule.fromText, { code: e.code, note: e.message });
  else if (e instanceof TransformError)
    report(st, rule, 'error', rule.fromText, { code: 'ERR_MAPPING_TRANSFORM', note: e.message });
  else throw e;
}
