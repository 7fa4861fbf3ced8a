/**
 * HL7 v2 ↔ canonical through a compiled plan, and what compiling an hl7v2 profile checks.
 *
 * Compile: `from` paths are HL7 paths (below); an id path is required per kind; the canonical
 * leaf a rule writes is a scalar the rule's transforms and value map produce; `messages` name
 * which message makes which kinds inbound and which event sends which message outbound.
 *
 * Inbound: MSH-9 picks the message rule (messages.inbound); each kind it produces is built from
 * that kind's rules, then the message's `set` constants (SIU^S15 → status cancelled), the
 * tombstone flag (S17) and `supersedes` (A40 MRG-1) are added. Paths were compiled once: a rule
 * costs one or two codec reads.
 *
 * Outbound: the change's event (run/records.ts detectEvent) picks the message type
 * (messages.outbound); the primary record and the included related ones (the Patient → PID)
 * are written through the same rules read the other way, segments in the profile's order
 * (HL7 v2.5 ch. 10 SIU_S12, ch. 3 ADT_A05…), MSH built here.
 */
import { isPasserelleError, PasserelleError } from '../../errors.js';
import {
  formatHl7Path,
  formatHl7Timestamp,
  type Hl7Charset,
  Hl7Message,
  Hl7MessageBuilder,
  type Hl7Path,
  isSupportedHl7Version,
  parseHl7Path,
  resolveCharset,
} from '../../hl7/index.js';
import type { ResourceKind } from '../../model/resources.js';
import { didYouMean } from '../../util/suggest.js';
import type {
  CompiledInboundMessage,
  CompiledKind,
  CompiledOutboundKind,
  CompiledRule,
  Hl7Plan,
  Hl7Selector,
  MappingPlan,
  ProfileHl7Path,
  ProfilePath,
  ProtocolAccessor,
  ProtocolSetEntry,
  Scalar,
} from '../compile/plan.js';
import type { MappingProfile } from '../compile/schema.js';
import {
  applyInbound,
  outboundValue,
  report,
  reportFailure,
  type RunState,
  withCountry,
} from '../run/apply.js';
import { completeEnd } from '../run/appointment-end.js';
import { type CompiledStep, writePath as writeCanonical } from '../run/element-path.js';
import {
  keepOtherIdentifiers,
  type OtherIdentifier,
  systemOfAuthority,
  V2_0203_SYSTEM,
} from '../run/other-identifiers.js';
import {
  failedFromCanonical,
  failedToCanonical,
  finishRecords,
  fromCanonicalResult,
  OUTBOUND_EVENTS,
  outboundStart,
  type RecordDraft,
  toCanonicalResult,
} from '../run/records.js';
import type { FieldReport } from '../run/report.js';
import { durationMinutes, hl7TimestampToMillis, SUBCOMPONENTS, TransformError } from '../run/transforms.js';
import type {
  CanonicalChange,
  FromCanonicalResult,
  MappingContext,
  ToCanonicalResult,
} from '../run/types.js';
import type { CompileContext, LeafCheck, ProtocolCompiler, ProtocolMapping } from './protocol.js';

export { formatHl7Path };

// -----------------------------------------------------------------------------------------------
// Paths

/**
 * HL7 paths as profiles write them: the codec's `SEG[n]-F[r].C.S` (connectors/hl7v2/README.md),
 * plus one extension for repeating fields whose repetitions are told apart by a value:
 *
 *   PID-3[4.2=1.2.250.1.999.1.1].1   the PID-3 repetition whose component 4.2 (assigning
 *                                    authority OID) is the practice's; its component 1 (the IPP)
 *   PID-5[7=L].1                     the name whose type (XPN.7) is L: the birth name
 *   PID-13[3=CP].12                  the cell-phone repetition's number
 *   PID-5[7=L|""|*].1                ordered alternatives: the name typed L, else the first
 *                                    untyped one, else the first repetition
 *
 * Reading picks the first repetition whose selector matches; writing reuses that repetition or
 * allocates the next free one and writes the selector value into it. Both halves are compiled
 * once into codec `Hl7Path` objects; nothing is parsed per message.
 */

const SELECTOR = /^([A-Z][A-Z0-9]{2}(?:\[[0-9]+\])?-[0-9]+)\[([0-9]+)(?:\.([0-9]+))?=([^\]]+)\](.*)$/;
const LOOKS_HL7 = /^[A-Z][A-Z0-9]{2}(\[[0-9*]+\])?-/;

/** Whether text looks like an HL7 path (used to tell a protocol mismatch from a typo). */
export function looksLikeHl7Path(text: string): boolean {
  return LOOKS_HL7.test(text);
}

/** Parses a profile HL7 path; throws an Error whose message names the problem. */
export function parseProfileHl7Path(text: string): ProfileHl7Path {
  const m = SELECTOR.exec(text);
  try {
    if (!m) {
      const path = parseHl7Path(text);
      return {
        text,
        path,
        selector: undefined,
        fieldKey: `${path.segment}[${path.occurrence ?? 1}]-${path.field}`,
        segment: path.segment,
        reps: [],
      };
    }
    const [, head, comp, sub, value, rest] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
      string,
      string,
    ];
    const path = parseHl7Path(`${head}[*]${rest}`);
    const selPath = parseHl7Path(`${head}[*].${comp}${sub ? `.${sub}` : ''}`);
    const alternatives = value.includes('|') ? value.split('|').map((v) => (v === '""' ? '' : v)) : undefined;
    if (alternatives?.slice(0, -1).includes('*'))
      throw new Error(`${text}: * (any repetition) can only be the last alternative`);
    return {
      text,
      path,
      selector: {
        path: selPath,
        value: alternatives ? (alternatives[0] as string) : value,
        ...(alternatives && { alternatives }),
        component: Number(comp),
        subcomponent: sub === undefined ? undefined : Number(sub),
      },
      fieldKey: `${path.segment}[${path.occurrence ?? 1}]-${path.field}`,
      segment: path.segment,
      reps: [],
    };
  } catch (e) {
    if (isPasserelleError(e))
      throw new Error(e.message.startsWith(`${text}: `) ? e.message.slice(text.length + 2) : e.message, {
        cause: e,
      });
    throw e;
  }
}

/**
 * Per message memo of selector reads, keyed by the compiled (interned) objects: several rules
 * share a selector (the IPP is the patient's id, its identifier and the appointment's patient
 * reference; five selectors look at PID-3.4.2; three rules read the birth name PID-5[7=L]).
 */
export type SelectorCache = Map<object, string | readonly string[] | number | null>;

/** The leaf path at one repetition, built once per profile path and repetition. */
function atRepetition(p: ProfileHl7Path, rep: number): Hl7Path {
  return (p.reps[rep] ??= withRepetition(p.path, rep));
}

/** The value at `p`; absent, empty and the HL7 null `""` are all undefined (a message is a full snapshot). */
export function readHl7(msg: Hl7Message, p: ProfileHl7Path, cache?: SelectorCache): string | undefined {
  let v: string | undefined;
  const sel = p.selector;
  if (sel === undefined) v = msg.get(p.path);
  else {
    const hit = cache?.get(p);
    if (hit !== undefined) return hit === null ? undefined : (hit as string);
    const at = selectedRepetition(msg, sel, cache);
    v = at < 0 ? undefined : msg.get(atRepetition(p, at + 1));
    const out = present(v);
    cache?.set(p, out ?? null);
    return out;
  }
  return present(v);
}

/** The repetition (0-based, -1 none) a selector picks, memoized per message. */
function selectedRepetition(msg: Hl7Message, sel: Hl7Selector, cache: SelectorCache | undefined): number {
  let at = cache?.get(sel) as number | undefined;
  if (at === undefined) {
    let keys = cache?.get(sel.path) as readonly string[] | undefined;
    if (keys === undefined) {
      keys = msg.getAll(sel.path);
      cache?.set(sel.path, keys);
    }
    at = pickRepetition(keys, sel);
    cache?.set(sel, at);
  }
  return at;
}

/** The repetition (0-based, -1 none) a selector picks from its leaf's value in each repetition. */
function pickRepetition(keys: readonly string[], sel: Hl7Selector): number {
  if (sel.alternatives === undefined) return keys.findIndex((k) => k.trim() === sel.value);
  for (const alt of sel.alternatives) {
    if (alt === '*') return keys.length > 0 ? 0 : -1;
    const at = keys.findIndex((k) => (present(k) ?? '') === alt);
    if (at >= 0) return at;
  }
  return -1;
}

const MAX_SUBCOMPONENTS = 9;

/**
 * The component at `p` with its sub-components 1..MAX_SUBCOMPONENTS joined by SUBCOMPONENTS
 * (for a `readsSubcomponents` transform), or undefined when none has a value.
 */
function readSubcomponents(msg: Hl7Message, p: ProfileHl7Path, cache: SelectorCache): string | undefined {
  if (p.path.component === undefined || p.path.subcomponent !== undefined) return readHl7(msg, p, cache);
  let at = p.path;
  if (p.selector) {
    const rep = selectedRepetition(msg, p.selector, cache);
    if (rep < 0) return undefined;
    at = atRepetition(p, rep + 1);
  }
  const parts: string[] = [];
  for (let s = 1; s <= MAX_SUBCOMPONENTS; s++) parts.push(present(msg.get({ ...at, subcomponent: s })) ?? '');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.length === 0 ? undefined : parts.join(SUBCOMPONENTS);
}

/** Components of the repetition `p` reads, joined by SUBCOMPONENTS, or undefined when all are empty. */
function readComponents(
  msg: Hl7Message,
  p: ProfileHl7Path,
  cache: SelectorCache,
  components: readonly number[],
): string | undefined {
  let at = p.path;
  if (p.selector) {
    const rep = selectedRepetition(msg, p.selector, cache);
    if (rep < 0) return undefined;
    at = atRepetition(p, rep + 1);
  }
  const parts = components.map(
    (c) => present(msg.get({ ...at, component: c, subcomponent: undefined })) ?? '',
  );
  return parts.every((v) => v === '') ? undefined : parts.join(SUBCOMPONENTS);
}

/**
 * Values are read trimmed (senders pad fields: `20250317093000 `, ` 38762`); an empty or
 * HL7 null (`""`) value is absent.
 */
function present(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' || t === '""' ? undefined : t;
}

/** The path text with an explicit repetition, for reports and the builder. */
export function withRepetition(
  p: Hl7Path,
  repetition: number,
  component?: number,
  subcomponent?: number,
): Hl7Path {
  return {
    segment: p.segment,
    occurrence: p.occurrence,
    field: p.field,
    repetition,
    component: component ?? p.component,
    subcomponent: component !== undefined ? subcomponent : p.subcomponent,
  };
}

// -----------------------------------------------------------------------------------------------
// Inbound

const DEFAULT_ZONE = 'Europe/Paris';
const MSH_7 = parseHl7Path('MSH-7');

/** The HL7 side of an accessor (an hl7v2 plan holds only those). */
function hl7Of(a: ProtocolAccessor): ProfileHl7Path | undefined {
  return 'hl7' in a ? a.hl7 : undefined;
}

function read(msg: Hl7Message, a: ProtocolAccessor, cache?: SelectorCache): string | undefined {
  const p = hl7Of(a);
  return p ? readHl7(msg, p, cache) : undefined;
}

function readFirst(
  msg: Hl7Message,
  list: readonly ProtocolAccessor[],
  cache: SelectorCache,
): { value: string; path: string } | undefined {
  for (const a of list) {
    const v = read(msg, a, cache);
    if (v !== undefined) return { value: v, path: a.text };
  }
  return undefined;
}

/**
 * Builds one kind. `optional`: the message may lack it (messages.inbound.<type>.optional);
 * `fallbacks`: paths text → the id to read there when the message has no value (the link's
 * default id of a kind the message lacks, for the rules that read that kind's id paths).
 */
function buildKind(
  msg: Hl7Message,
  ck: CompiledKind,
  st: RunState,
  cache: SelectorCache,
  optional: boolean,
  defaultId: string | undefined,
  fallbacks: ReadonlyMap<string, string>,
): { data: Record<string, unknown>; externalId: string | undefined; ok: boolean } {
  const data: Record<string, unknown> = {};
  let ok = true;
  const id = readFirst(msg, ck.idFrom, cache);
  if (!id && optional) {
    // A kind the message may lack (an SIU's practitioner): left out, the rest applied, with the
    // link's default in its place when it has one.
    const flag = `${ck.kind.toLowerCase()}-${defaultId === undefined ? 'missing' : 'defaulted'}`;
    st.flags.add(flag);
    st.report.push({
      rule: `${ck.kind}.id`,
      kind: ck.kind,
      protocolPath: ck.idText,
      canonicalPath: 'id',
      status: defaultId === undefined ? 'unmapped' : 'defaulted',
      code: 'ERR_MAPPING_MISSING_ID',
      note: `no record id in the message: ${ck.kind} ${defaultId === undefined ? 'left out' : "taken from the link's default"}; flag ${flag}`,
    });
    return { data, externalId: undefined, ok: true };
  }
  st.report.push({
    rule: `${ck.kind}.id`,
    kind: ck.kind,
    protocolPath: id?.path ?? ck.idText,
    canonicalPath: 'id',
    status: id ? 'mapped' : 'error',
    ...(!id && { code: 'ERR_MAPPING_MISSING_ID' as const, note: 'no record id in the message' }),
  });
  if (!id) ok = false;
  const kst = withCountry(st, ck.inboundRules, (rule) =>
    rule.from.map((a) => read(msg, a, cache)).find((v) => v !== undefined),
  );
  for (const rule of ck.inboundRules) {
    let raw: string | undefined;
    let used: string | null = null;
    const first = rule.transforms[0];
    const whole = first?.readsSubcomponents === true;
    const fallback = first?.fallbackComponents;
    for (const [i, a] of rule.from.entries()) {
      const h = whole ? hl7Of(a) : undefined;
      raw = h ? readSubcomponents(msg, h, cache) : read(msg, a, cache);
      if (raw === undefined && fallback !== undefined) {
        const p = hl7Of(a);
        if (p?.path.component === fallback.for && p.path.subcomponent === undefined)
          raw = readComponents(msg, p, cache, fallback.components);
      }
      if (raw === undefined) continue;
      used = a.text;
      const unitAt = rule.units[i];
      if (unitAt) {
        // SCH-9 in the unit SCH-10 names: minutes before the rule's transforms.
        try {
          raw = String(durationMinutes(raw, read(msg, unitAt, cache)));
        } catch (e) {
          if (!(e instanceof TransformError)) throw e;
          // An unknown unit: the value with its unit fails the rule's transform below and is
          // dropped with a warning, like any duration that cannot be read.
          raw = `${raw} ${read(msg, unitAt, cache) ?? ''}`;
        }
      }
      break;
    }
    if (raw === undefined && rule.fromText !== null) {
      const fallback = fallbacks.get(rule.fromText);
      if (fallback !== undefined) {
        raw = fallback;
        used = 'link default';
      }
    }
    let holds = true;
    if (rule.when) {
      const w = read(msg, rule.when.accessor, cache);
      holds = w !== undefined && rule.when.values.includes(w);
    }
    if (!applyInbound(rule, raw, used, holds, data, kst)) ok = false;
  }
  if (ck.kind === 'Patient') keepOtherIdentifiers(data, pid3Identifiers(msg), kst, { byValue: true });
  return { data, externalId: id?.value, ok };
}

/**
 * Every PID-3 repetition as an identifier: CX-1 the value, CX-4 the assigning authority (its
 * system and `assigner.display`), CX-5 the type (table 0203). Those the rules kept are skipped
 * by value (a rule may have put one under a namespace constant of the profile).
 */
function pid3Identifiers(msg: Hl7Message): OtherIdentifier[] {
  const values = msg.getAll('PID-3[*].1');
  const ns = msg.getAll('PID-3[*].4.1');
  const uid = msg.getAll('PID-3[*].4.2');
  const uidType = msg.getAll('PID-3[*].4.3');
  const types = msg.getAll('PID-3[*].5');
  return values.map((v, i) => {
    const type = types[i]?.trim();
    const assigner = ns[i]?.trim();
    return {
      value: v,
      system: systemOfAuthority(ns[i], uid[i], uidType[i]),
      use: 'secondary',
      ...(type && { type: { coding: [{ system: V2_0203_SYSTEM, code: type }] } }),
      ...(assigner && { assignerDisplay: assigner }),
      at: `PID-3[${i + 1}]`,
    };
  });
}

/** Every field present in the message that no rule of the produced kinds reads (CLI, dry-run). */
function inventory(
  msg: Hl7Message,
  plan: MappingPlan,
  kinds: readonly ResourceKind[],
  extra: readonly ProtocolAccessor[],
): FieldReport[] {
  const read = new Set<string>();
  const note = (a: ProtocolAccessor) => {
    const p = hl7Of(a)?.path;
    if (p) read.add(`${p.segment}[${p.occurrence ?? 1}]-${p.field}`);
  };
  for (const k of kinds) {
    const ck = plan.kinds[k];
    if (!ck) continue;
    ck.idFrom.forEach(note);
    for (const r of ck.inboundRules) {
      r.from.forEach(note);
      if (r.when) note(r.when.accessor);
    }
  }
  extra.forEach(note);
  const out: FieldReport[] = [];
  for (const seg of msg.segments()) {
    if (seg.name === 'MSH') continue;
    for (let f = 1; f <= 60; f++) {
      const key = `${seg.name}[${seg.occurrence}]-${f}`;
      const v = msg.getEncoded(key);
      if (v === undefined || v === '' || read.has(key)) continue;
      out.push({
        rule: '(not in profile)',
        kind: null,
        protocolPath: seg.occurrence > 1 ? key : `${seg.name}-${f}`,
        canonicalPath: null,
        status: 'unmapped',
        note: 'present in the message, not read by the profile',
      });
    }
  }
  return out;
}

const EVN_1 = parseHl7Path('EVN-1');

/**
 * The message type the profile's `messages.inbound` is looked up by: MSH-9.1^MSH-9.2. HL7 v2.1
 * has no MSH-9.2 (MSH-9 is the message type alone) and v2.1-v2.4 carry the trigger event in
 * EVN-1 (kept for backward compatibility from v2.5): with MSH-9.2 empty, EVN-1 gives it.
 */
function inboundMessageType(msg: Hl7Message): { type: string; fromEvn: boolean } {
  const h = msg.header;
  if (h.messageCode !== undefined && h.triggerEvent === undefined) {
    const evn = present(msg.get(EVN_1));
    if (evn !== undefined) return { type: `${h.messageCode}^${evn}`, fromEvn: true };
  }
  return { type: h.messageType ?? '(no MSH-9)', fromEvn: false };
}

export function hl7ToCanonical(
  plan: MappingPlan,
  msg: Hl7Message,
  ctx: MappingContext = {},
): ToCanonicalResult {
  const hl7 = plan.hl7 as Hl7Plan;
  const { type, fromEvn } = inboundMessageType(msg);
  const rule = hl7.inbound.get(type);
  if (!rule) {
    const accepted = [...hl7.inbound.keys()].join(', ');
    // ERR-8 is cut at 250 characters: the field and the rule first, the list last.
    const noTrigger =
      msg.header.messageCode !== undefined && msg.header.triggerEvent === undefined && !fromEvn;
    const message = noTrigger
      ? `MSH-9.2 (trigger event) is empty and no EVN-1 gives it: profile ${plan.name} takes a message by its type and trigger event, ${msg.header.messageCode}^<event> (accepted: ${accepted})`
      : `profile ${plan.name} accepts no ${type} message (accepted: ${accepted})`;
    return failedToCanonical(
      type,
      new PasserelleError('ERR_MAPPING_UNSUPPORTED_MESSAGE', message, {
        details: { messageType: type, profile: plan.name, ...(noTrigger && { protocolPath: 'MSH-9.2' }) },
      }),
    );
  }
  const timezone = ctx.timezone ?? plan.timezone ?? DEFAULT_ZONE;
  const st: RunState = { report: [], flags: new Set(), tctx: { timezone } };
  // The codec read past a sender's mistake (MSH-2 `^~\\&`): applied, and said.
  for (const note of msg.notes) {
    st.flags.add(`msh-2-${note}`);
    st.report.push({
      rule: 'MSH-2',
      kind: null,
      protocolPath: 'MSH-2',
      canonicalPath: null,
      status: 'defaulted',
      code: 'ERR_HL7_PARSE',
      note: `MSH-2 holds the escape character twice (^~\\\\&): read as ^~\\&, the copy ignored; flag msh-2-${note}`,
    });
  }
  if (fromEvn)
    st.report.push({
      rule: `messages.inbound.${type}`,
      kind: null,
      protocolPath: 'EVN-1',
      canonicalPath: null,
      status: 'mapped',
      note: 'trigger event from EVN-1: MSH-9.2 is empty (HL7 v2.1-v2.4)',
    });
  let updatedAt: string | undefined;
  const ts = msg.get(MSH_7);
  if (ts !== undefined) {
    try {
      updatedAt = new Date(hl7TimestampToMillis(ts, timezone)).toISOString();
    } catch {
      updatedAt = undefined;
    }
  }
  const drafts: RecordDraft[] = [];
  const cache: SelectorCache = new Map();
  // A kind the message lacks, with a default id for the link: the rules reading its id paths
  // (the appointment's practitioner reference) read that id.
  const fallbacks = new Map<string, string>();
  for (const kind of rule.optional) {
    const dflt = ctx.defaultIds?.[kind];
    const ck = plan.kinds[kind];
    if (dflt !== undefined && ck && readFirst(msg, ck.idFrom, cache) === undefined)
      fallbacks.set(ck.idFrom.map((a) => a.text).join(' | '), dflt);
  }
  for (const kind of rule.records) {
    const ck = plan.kinds[kind] as CompiledKind;
    const built = buildKind(
      msg,
      ck,
      st,
      cache,
      rule.optional.has(kind),
      rule.optional.has(kind) ? ctx.defaultIds?.[kind] : undefined,
      fallbacks,
    );
    for (const s of rule.set.get(kind) ?? []) {
      // Message constants replace what a rule wrote (SIU^S15: status cancelled whatever SCH-25 says).
      writeCanonical(built.data, s.steps, s.value);
      st.report.push({
        rule: `messages.inbound.${type}.set`,
        kind,
        protocolPath: type,
        canonicalPath: s.text.slice(kind.length + 1),
        status: 'mapped',
        note: 'message constant',
      });
    }
    let supersedes: string[] | undefined;
    if (rule.supersedes?.kind === kind) {
      supersedes = [];
      for (const a of rule.supersedes.from) {
        const v = read(msg, a, cache);
        // A message giving only the placer id (SCH-1) is known by it: it replaces nothing.
        if (v !== undefined && v !== built.externalId) supersedes.push(v);
      }
      st.report.push({
        rule: `messages.inbound.${type}.supersedes`,
        kind,
        protocolPath: rule.supersedes.from.map((a) => a.text).join(' | '),
        canonicalPath: null,
        status: supersedes.length > 0 ? 'mapped' : 'unmapped',
        note: 'ids this record replaces',
      });
    }
    if (built.externalId === undefined) continue;
    if (kind === 'Appointment') completeEnd(plan, built.data, st);
    drafts.push({
      kind,
      externalId: built.externalId,
      data: built.data,
      ...(rule.deleted.has(kind) && { deleted: true }),
      ...(updatedAt !== undefined && { updatedAt }),
      ...(supersedes && { supersedes }),
    });
  }
  const outcome = finishRecords(plan, drafts, ctx, st.flags);
  if (ctx.inventory) st.report.push(...inventory(msg, plan, rule.records, rule.supersedes?.from ?? []));
  return toCanonicalResult(type, st.report, st.flags, outcome);
}

// -----------------------------------------------------------------------------------------------
// Outbound

interface Write {
  readonly path: Hl7Path;
  readonly value: string;
  readonly order: number;
  readonly seq: number;
  readonly rule: string;
}

/** HL7 v2.5 message structures (MSH-9.3) of the events passerelle sends (Appendix A, ch. 3, 7, 9, 10). */
const STRUCTURES: Readonly<Record<string, string>> = {
  'ADT^A01': 'ADT_A01',
  'ADT^A04': 'ADT_A01',
  'ADT^A08': 'ADT_A01',
  'ADT^A28': 'ADT_A05',
  'ADT^A31': 'ADT_A05',
  'ADT^A40': 'ADT_A39',
  'ADT^A47': 'ADT_A30',
  'MDM^T02': 'MDM_T02',
  'ORU^R01': 'ORU_R01',
};
function structureOf(type: string): string {
  if (type.startsWith('SIU^')) return 'SIU_S12';
  return STRUCTURES[type] ?? type.replace('^', '_');
}

export function canonicalToHl7(
  plan: MappingPlan,
  change: CanonicalChange,
  ctx: MappingContext = {},
): FromCanonicalResult {
  const hl7 = plan.hl7 as Hl7Plan;
  const start = outboundStart(plan, change);
  if ('done' in start) return start.done;
  const { event } = start;
  const ob = hl7.outbound.get(change.kind);
  const type = ob?.events.get(event);
  if (!ob || !type) {
    return failedFromCanonical(
      event,
      new PasserelleError(
        'ERR_MAPPING_NO_OUTBOUND',
        `profile ${plan.name} names no outbound message for ${change.kind} ${event} (messages.outbound.${change.kind}.events.${event})`,
        { details: { kind: change.kind, event, profile: plan.name } },
      ),
    );
  }
  const code = type.slice(0, 3);
  const timezone = ctx.timezone ?? plan.timezone ?? DEFAULT_ZONE;
  const st: RunState = { report: [], flags: new Set(), tctx: { timezone } };
  const order = hl7.segments.get(code) ?? [];
  const firstSeen = new Map<string, number>();
  const orderOf = (seg: string): number => {
    if (seg === 'MSH') return -1;
    const i = order.indexOf(seg);
    if (i >= 0) return i;
    if (!firstSeen.has(seg)) firstSeen.set(seg, 1000 + firstSeen.size);
    return firstSeen.get(seg) as number;
  };
  const writes: Write[] = [];
  const alloc = new Map<string, string[]>();
  const push = (path: Hl7Path, value: string, rule: string) =>
    writes.push({ path, value, order: orderOf(path.segment), seq: writes.length, rule });

  /** Where one accessor writes; a selector reuses or allocates its repetition and writes its value. */
  const target = (a: ProtocolAccessor, rule: string): Hl7Path | undefined => {
    const p = hl7Of(a);
    if (!p) return undefined;
    if (!p.selector) return p.path;
    const reps = alloc.get(p.fieldKey) ?? [];
    alloc.set(p.fieldKey, reps);
    const key = `${p.selector.component}.${p.selector.subcomponent ?? 1}=${p.selector.value}`;
    let at = reps.indexOf(key);
    if (at < 0) {
      at = 0;
      while (reps[at] !== undefined) at++;
      reps[at] = key;
      // `""` / `*` first: nothing to write in the selector's component.
      if (p.selector.value !== '' && p.selector.value !== '*')
        push(
          withRepetition(p.path, at + 1, p.selector.component, p.selector.subcomponent),
          p.selector.value,
          rule,
        );
    }
    return withRepetition(p.path, at + 1);
  };

  const now = ctx.now?.() ?? Date.now();
  const version = plan.version;
  const oldStyle = version === '2.3' || version === '2.3.1';
  const msh: [string, string | undefined][] = [
    ['MSH-3', hl7.sendingApplication],
    ['MSH-4', hl7.sendingFacility],
    ['MSH-5', hl7.receivingApplication],
    ['MSH-6', hl7.receivingFacility],
    ['MSH-7', formatHl7Timestamp(new Date(now), timezone)],
    ['MSH-9.1', code],
    ['MSH-9.2', type.slice(4)],
    ['MSH-9.3', oldStyle ? undefined : structureOf(type)],
    ['MSH-10', ctx.controlId ?? `PSR${now.toString(36).toUpperCase()}`],
    ['MSH-11', hl7.processingId],
    ['MSH-12', version],
    ['MSH-18', hl7.charset],
  ];
  for (const [p, v] of msh)
    if (v !== undefined)
      push(
        {
          segment: 'MSH',
          occurrence: undefined,
          field: Number(p.slice(4).split('.')[0]),
          repetition: undefined,
          component: p.includes('.') ? Number(p.split('.')[1]) : undefined,
          subcomponent: undefined,
        },
        v,
        'MSH',
      );

  // `known`: passerelle's id, when the peer knows the record by it (it was created from here).
  const records: {
    kind: ResourceKind;
    data: unknown;
    externalId: string | null;
    canonicalId: string | undefined;
    known: string | undefined;
  }[] = [
    {
      kind: change.kind,
      data: change.data,
      externalId: change.externalId,
      canonicalId: change.canonicalId,
      known: change.canonicalId,
    },
  ];
  for (const inc of ob.include) {
    const rel = change.related?.find((r) => r.data.resourceType === inc);
    if (rel)
      records.push({
        kind: inc,
        data: rel.data,
        externalId: rel.externalId,
        canonicalId: rel.canonicalId ?? rel.data.id,
        known: rel.canonicalId,
      });
    else {
      st.flags.add(`missing-related-${inc.toLowerCase()}`);
      st.report.push({
        rule: `messages.outbound.${change.kind}.include`,
        kind: inc,
        protocolPath: null,
        canonicalPath: null,
        status: 'unmapped',
        note: `no related ${inc} given: its segments are not written`,
      });
    }
  }

  // Values first, places second: plain paths (PID-13[1].12) reserve their repetition before
  // selector paths (PID-13[2=NET].4) allocate theirs, whatever the rule order.
  interface Pending {
    readonly accessor: ProtocolAccessor;
    readonly value: string;
    readonly rule: string;
    readonly protocolSet: CompiledRule['protocolSet'];
  }
  const pending: Pending[] = [];
  for (const rec of records) {
    const k = plan.kinds[rec.kind];
    if (!k) continue;
    const own: (Pending & { readonly compiled: CompiledRule })[] = [];
    for (const rule of k.outboundRules) {
      try {
        const v = outboundValue(rule, rec.data, st.tctx);
        const primary = rule.from[0];
        if (v === undefined || primary === undefined) {
          report(st, rule, 'unmapped', rule.fromText, { note: 'no canonical value' });
          continue;
        }
        own.push({
          accessor: primary,
          value: String(v.value),
          rule: rule.label,
          protocolSet: rule.protocolSet,
          compiled: rule,
        });
        report(st, rule, v.defaulted ? 'defaulted' : 'mapped', primary.text, {
          ...(v.constant && { note: 'constant' }),
          ...(v.defaulted && { note: 'canonical value not in map: default' }),
        });
      } catch (e) {
        reportFailure(st, rule, e);
      }
    }
    // A rule's `when` holds both ways: outbound it is checked against what this record writes,
    // so the INS is written only beside PID-32 = VALI (FR Core: the INS travels only with a
    // qualified identity), whatever the canonical record holds.
    for (const p of own) {
      const when = p.compiled.when;
      if (when) {
        const written = own.find((o) => o.accessor.text === when.accessor.text)?.value;
        if (written === undefined || !when.values.includes(written)) {
          if (p.compiled.flag) st.flags.add(p.compiled.flag);
          report(st, p.compiled, 'unmapped', p.accessor.text, {
            note: `dropped: condition not met${p.compiled.flag ? `, flag ${p.compiled.flag}` : ''}`,
          });
          continue;
        }
      }
      pending.push(p);
    }
    const idPath = k.idFrom[0];
    // A record the peer knows by passerelle's id (created from here) keeps it where it was
    // given: the placer id SCH-1 of a secretariat booking, never the filler id SCH-2.
    const byOurId = rec.externalId === null || (rec.known !== undefined && rec.externalId === rec.known);
    if (byOurId && k.newId && rec.canonicalId !== undefined) {
      pending.push({ accessor: k.newId, value: rec.canonicalId, rule: `${rec.kind}.id`, protocolSet: [] });
      st.report.push({
        rule: `${rec.kind}.id`,
        kind: rec.kind,
        protocolPath: k.newId.text,
        canonicalPath: 'id',
        status: 'mapped',
        note: 'passerelle id',
      });
    } else if (rec.externalId !== null && idPath && !k.idWrittenByRule) {
      pending.push({ accessor: idPath, value: rec.externalId, rule: `${rec.kind}.id`, protocolSet: [] });
      st.report.push({
        rule: `${rec.kind}.id`,
        kind: rec.kind,
        protocolPath: idPath.text,
        canonicalPath: 'id',
        status: 'mapped',
      });
    }
  }
  for (const p of pending) {
    const h = hl7Of(p.accessor);
    if (!h || h.selector) continue;
    const reps = alloc.get(h.fieldKey) ?? [];
    alloc.set(h.fieldKey, reps);
    const r = typeof h.path.repetition === 'number' ? h.path.repetition : 1;
    reps[r - 1] ??= '#plain';
  }
  for (const p of pending) {
    const t = target(p.accessor, p.rule);
    if (!t) continue;
    push(t, p.value, p.rule);
    for (const ps of p.protocolSet) {
      if (ps.component === undefined) continue;
      push(
        { ...t, repetition: t.repetition ?? 1, component: ps.component, subcomponent: ps.subcomponent },
        ps.value,
        p.rule,
      );
    }
  }

  writes.sort(
    (a, b) =>
      a.order - b.order ||
      (a.path.segment === b.path.segment ? (a.path.occurrence ?? 1) - (b.path.occurrence ?? 1) : 0) ||
      a.seq - b.seq,
  );
  // Checked when the profile was compiled.
  const builder = new Hl7MessageBuilder({ charset: resolveCharset(hl7.charset) as Hl7Charset });
  const failedRules = new Set<string>();
  for (const w of writes) {
    try {
      builder.set(w.path, w.value);
    } catch (e) {
      if (!isPasserelleError(e)) throw e;
      if (failedRules.has(w.rule)) continue;
      failedRules.add(w.rule);
      st.report.push({
        rule: w.rule,
        kind: change.kind,
        protocolPath: formatHl7Path(w.path),
        canonicalPath: null,
        status: 'error',
        code: 'ERR_MAPPING_NO_OUTBOUND',
        note: e.message,
      });
    }
  }
  const encoded = builder.encode();
  return fromCanonicalResult(event, st.report, {
    hl7: { messageType: type, text: encoded.text, bytes: encoded.bytes, charset: encoded.charset },
  });
}

// -----------------------------------------------------------------------------------------------
// Compile

const DEFAULT_SEGMENTS: Readonly<Record<string, readonly string[]>> = {
  // HL7 v2.5 ch. 10 SIU_S12 and ch. 3 ADT_A01/ADT_A05, ch. 9 MDM_T02, ch. 7 ORU_R01 (group order).
  SIU: ['SCH', 'TQ1', 'NTE', 'PID', 'PD1', 'PV1', 'PV2', 'OBX', 'DG1', 'RGS', 'AIS', 'AIG', 'AIL', 'AIP'],
  ADT: ['EVN', 'PID', 'PD1', 'ROL', 'NK1', 'PV1', 'PV2', 'MRG', 'ZFD'],
  MDM: ['EVN', 'PID', 'PV1', 'TXA', 'OBX', 'NTE'],
  ORU: ['PID', 'PV1', 'ORC', 'OBR', 'NTE', 'OBX'],
};

type OutboundMessages = NonNullable<NonNullable<MappingProfile['messages']>['outbound']>;

class Hl7Compiler implements ProtocolCompiler {
  readonly units = true;
  private readonly selectors = new Map<string, Hl7Selector>();
  private readonly selectorPaths = new Map<string, Hl7Path>();
  private readonly paths = new Map<string, ProfileHl7Path>();

  constructor(private readonly cx: CompileContext) {}

  /** Checked with the messages (section), where the HL7 settings are. */
  checkVersion(): void {}

  path(text: string, _kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined {
    if (!looksLikeHl7Path(text)) {
      if (/^[a-z]/.test(text)) {
        this.cx.error(
          at,
          'ERR_MAPPING_PROTOCOL_MISMATCH',
          `${text} is an element path, not an HL7 path (SEG[n]-F[r].C.S such as PID-5[1].1); this profile's protocol is hl7v2`,
        );
      } else {
        this.cx.error(
          at,
          'ERR_MAPPING_BAD_PATH',
          `${text}: not an HL7 path (SEG[n]-F[r].C.S such as PID-5[1].1, SCH-11.4)`,
        );
      }
      return undefined;
    }
    try {
      // One object per distinct path, selector and selector path: the engine memoizes reads
      // per message by these objects, for every rule sharing them.
      const known = this.paths.get(text);
      if (known) return { protocol: 'hl7v2', hl7: known, text };
      let parsed = parseProfileHl7Path(text);
      if (parsed.selector) {
        const pathKey = formatHl7Path(parsed.selector.path);
        const selPath = this.selectorPaths.get(pathKey) ?? parsed.selector.path;
        this.selectorPaths.set(pathKey, selPath);
        const key = `${pathKey}=${parsed.selector.alternatives?.join('|') ?? parsed.selector.value}`;
        const shared = this.selectors.get(key) ?? { ...parsed.selector, path: selPath };
        this.selectors.set(key, shared);
        parsed = { ...parsed, selector: shared };
      }
      this.paths.set(text, parsed);
      return { protocol: 'hl7v2', hl7: parsed, text };
    } catch (e) {
      this.cx.error(at, 'ERR_MAPPING_BAD_PATH', `bad HL7 path ${text}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** A field holds text: a rule reading one writes one canonical scalar, of the leaf's type. */
  checkLeaf(c: LeafCheck): boolean {
    const { at, toText, to, leaf, hasFrom, value, map, transforms, transformsOk, isObject, wholeList } = c;
    if (hasFrom && value === undefined) {
      if (isObject) {
        const kids = [...leaf.children().keys()];
        this.cx.error(
          [...at, 'to'],
          'ERR_MAPPING_TYPE',
          `${toText} is ${leaf.reference ? 'a Reference' : 'a group of elements'}; map one of its elements (${kids
            .map((k) => `${to.text}.${k}`)
            .slice(0, 4)
            .join(', ')})`,
        );
      } else if (wholeList) {
        this.cx.error(
          [...at, 'to'],
          'ERR_MAPPING_TYPE',
          `${toText} is a list; map one item of it (${to.text}[0])`,
        );
      }
    }
    if (!isObject && !wholeList && hasFrom && !map && value === undefined && transformsOk) {
      const produces = transforms[transforms.length - 1]?.produces;
      if (leaf.type === 'number' && produces !== 'number')
        this.cx.error([...at, 'to'], 'ERR_MAPPING_TYPE', `${toText} is a number; add transform: integer`);
      if (leaf.format === 'instant' && produces !== 'instant')
        this.cx.error(
          [...at, 'to'],
          'ERR_MAPPING_TYPE',
          `${toText} is an instant (UTC); add transform: hl7-datetime`,
        );
      if (leaf.format === 'date' && produces !== 'date')
        this.cx.error(
          [...at, 'to'],
          'ERR_MAPPING_TYPE',
          `${toText} is a date (YYYY-MM-DD); add transform: hl7-date`,
        );
      if (leaf.enum && !map) {
        this.cx.error(
          [...at, 'to'],
          'ERR_MAPPING_VALUE_MAP',
          `${toText} takes one of ${leaf.enum.join(', ')}; translate the protocol codes with a value map (map: …)`,
        );
      }
    }
    return false;
  }

  /** Keys are a component, or component.sub-component, in the field of the rule's `from`. */
  protocolSetEntry(
    key: string,
    value: string,
    primary: ProtocolAccessor,
    _kind: ResourceKind,
    at: ProfilePath,
  ): ProtocolSetEntry | undefined {
    const m = /^([0-9]{1,3})(?:\.([0-9]{1,3}))?$/.exec(key);
    if (!m || Number(m[1]) === 0 || m[2] === '0') {
      this.cx.error(
        at,
        'ERR_MAPPING_BAD_PATH',
        `protocolSet key ${key}: expected a component number, or component.sub-component (e.g. 4.1), in the field of ${primary.text}`,
      );
      return undefined;
    }
    return { component: Number(m[1]), ...(m[2] !== undefined && { subcomponent: Number(m[2]) }), value };
  }

  newId(raw: string, kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined {
    return this.cx.protocolPath(raw, kind, at);
  }

  /** A message carries several records: each kind says which field holds its id. */
  defaultId(kind: ResourceKind, at: ProfilePath): undefined {
    this.cx.error(
      at,
      'ERR_MAPPING_SCHEMA',
      `${kind}: an HL7 profile says where the record id comes from (id: { from: … }, e.g. SCH-2.1)`,
    );
    return undefined;
  }

  section(kinds: Partial<Record<ResourceKind, CompiledKind>>): Hl7Plan {
    const cx = this.cx;
    const p = cx.profile;
    if (!isSupportedHl7Version(p.version))
      cx.warn(
        ['version'],
        'ERR_MAPPING_SCHEMA',
        `HL7 version ${p.version} is not one the codec is tested with (2.3, 2.3.1, 2.4, 2.5, 2.5.1)`,
      );
    const settings = p.hl7 ?? {};
    if (settings.charset !== undefined && resolveCharset(settings.charset) === undefined) {
      cx.error(
        ['hl7', 'charset'],
        'ERR_MAPPING_SCHEMA',
        `unknown HL7 character set ${settings.charset} (UNICODE UTF-8, 8859/1, 8859/15, ASCII)`,
      );
    }
    const segments = new Map<string, readonly string[]>(Object.entries(DEFAULT_SEGMENTS));
    for (const [code, list] of Object.entries(settings.segments ?? {})) segments.set(code, list);

    const inbound = new Map<string, CompiledInboundMessage>();
    for (const [type, m] of Object.entries(p.messages?.inbound ?? {})) {
      const at: ProfilePath = ['messages', 'inbound', type];
      for (const [i, k] of m.records.entries()) {
        const ck = kinds[k];
        if (!ck)
          cx.error(
            [...at, 'records', i],
            'ERR_MAPPING_MESSAGE_RULE',
            `${type} produces ${k}, but the profile has no ${k} section`,
          );
        else if (!ck.inbound)
          cx.error(
            [...at, 'records', i],
            'ERR_MAPPING_MESSAGE_RULE',
            `${type} produces ${k}, but ${k} is not synced to-canonical (directions: ${ck.directions.join(', ')})`,
          );
      }
      for (const [i, k] of (m.deleted ?? []).entries()) {
        if (!m.records.includes(k))
          cx.error(
            [...at, 'deleted', i],
            'ERR_MAPPING_MESSAGE_RULE',
            `${type}: deleted lists ${k}, which is not in records`,
          );
      }
      const set = new Map<ResourceKind, { steps: readonly CompiledStep[]; text: string; value: Scalar }[]>();
      for (const [key, v] of Object.entries(m.set ?? {})) {
        const where = [...at, 'set', key];
        const dot = key.indexOf('.');
        const k = key.slice(0, dot) as ResourceKind;
        if (dot < 0 || !m.records.includes(k)) {
          cx.error(
            where,
            'ERR_MAPPING_MESSAGE_RULE',
            `set keys are Kind.path for a kind this message produces (${m.records.join(', ')}), e.g. ${m.records[0]}.status`,
            true,
          );
          continue;
        }
        const r = cx.elementPath(cx.catalogue, k, cx.subst(key.slice(dot + 1), where), where);
        if (!r) continue;
        const val = cx.substScalar(v, where);
        if (r.leaf.enum && !r.leaf.enum.includes(String(val))) {
          cx.error(
            where,
            'ERR_MAPPING_TYPE',
            `${String(val)} is not allowed in ${key} (one of ${r.leaf.enum.join(', ')})${didYouMean(String(val), r.leaf.enum)}`,
          );
          continue;
        }
        set.set(k, [...(set.get(k) ?? []), { steps: r.path.steps, text: key, value: val }]);
      }
      let supersedes: CompiledInboundMessage['supersedes'];
      if (m.supersedes) {
        const list = Array.isArray(m.supersedes.from) ? m.supersedes.from : [m.supersedes.from];
        const from: ProtocolAccessor[] = [];
        list.forEach((f, i) => {
          const a = cx.protocolPath(
            f,
            m.supersedes?.kind ?? 'Patient',
            Array.isArray(m.supersedes?.from)
              ? [...at, 'supersedes', 'from', i]
              : [...at, 'supersedes', 'from'],
          );
          if (a) from.push(a);
        });
        if (!m.records.includes(m.supersedes.kind))
          cx.error(
            [...at, 'supersedes', 'kind'],
            'ERR_MAPPING_MESSAGE_RULE',
            `${type}: supersedes ${m.supersedes.kind}, which is not in records`,
          );
        supersedes = { kind: m.supersedes.kind, from };
      }
      for (const [i, k] of (m.optional ?? []).entries()) {
        if (!m.records.includes(k))
          cx.error(
            [...at, 'optional', i],
            'ERR_MAPPING_MESSAGE_RULE',
            `${type}: optional lists ${k}, which is not in records`,
          );
      }
      inbound.set(type, {
        type,
        records: m.records,
        deleted: new Set(m.deleted ?? []),
        optional: new Set(m.optional ?? []),
        set,
        supersedes,
      });
    }

    const outbound = new Map<ResourceKind, CompiledOutboundKind>();
    for (const [k, o] of Object.entries(p.messages?.outbound ?? {}) as [
      ResourceKind,
      OutboundMessages[ResourceKind],
    ][]) {
      if (!o) continue;
      const at: ProfilePath = ['messages', 'outbound', k];
      const ck = kinds[k];
      if (!ck)
        cx.error(
          at,
          'ERR_MAPPING_MESSAGE_RULE',
          `outbound messages for ${k}, but the profile has no ${k} section`,
          true,
        );
      else if (!ck.outbound)
        cx.error(
          at,
          'ERR_MAPPING_MESSAGE_RULE',
          `outbound messages for ${k}, but ${k} is not synced from-canonical (directions: ${ck.directions.join(', ')})`,
          true,
        );
      const events = new Map<string, string>();
      for (const [event, type] of Object.entries(o.events)) {
        if (!OUTBOUND_EVENTS[k].includes(event)) {
          cx.error(
            [...at, 'events', event],
            'ERR_MAPPING_MESSAGE_RULE',
            `unknown ${k} event ${event}${didYouMean(event, OUTBOUND_EVENTS[k])}; ${k} events: ${OUTBOUND_EVENTS[k].join(', ')}`,
            true,
          );
          continue;
        }
        events.set(event, type);
      }
      for (const [i, inc] of (o.include ?? []).entries()) {
        if (!kinds[inc]?.outbound)
          cx.error(
            [...at, 'include', i],
            'ERR_MAPPING_MESSAGE_RULE',
            `include ${inc}: the profile does not map ${inc} from-canonical`,
          );
      }
      outbound.set(k, { kind: k, events, include: o.include ?? [] });
    }
    for (const ck of Object.values(kinds)) {
      if (ck.inbound && ![...inbound.values()].some((m) => m.records.includes(ck.kind))) {
        cx.warn(
          [ck.kind, 'directions'],
          'ERR_MAPPING_MESSAGE_RULE',
          `${ck.kind} is synced to-canonical but no inbound message (messages.inbound) produces it`,
        );
      }
      // A kind written only inside other kinds' messages (include: the Practitioner in AIP-3) needs no message of its own.
      if (
        ck.outbound &&
        !outbound.has(ck.kind) &&
        ![...outbound.values()].some((o) => o.include.includes(ck.kind))
      ) {
        cx.warn(
          [ck.kind, 'directions'],
          'ERR_MAPPING_MESSAGE_RULE',
          `${ck.kind} is synced from-canonical but messages.outbound names no message for it (nor includes it in one)`,
        );
      }
      for (const r of ck.outboundRules) {
        const first = r.from[0];
        const seg = first && hl7Of(first)?.segment;
        if (seg === undefined || seg === 'MSH') continue;
        for (const [kindOut, o] of outbound) {
          if (kindOut !== ck.kind && !o.include.includes(ck.kind)) continue;
          for (const type of new Set(o.events.values())) {
            const code = type.slice(0, 3);
            const order = segments.get(code);
            if (order && !order.includes(seg)) {
              cx.warn(
                [...r.at, 'from'],
                'ERR_MAPPING_MESSAGE_RULE',
                `segment ${seg} is not in the ${code} segment order (hl7.segments.${code}); it is written after the others`,
              );
            }
          }
        }
      }
    }
    return {
      sendingApplication: settings.sendingApplication ?? 'PASSERELLE',
      sendingFacility: settings.sendingFacility,
      receivingApplication: settings.receivingApplication,
      receivingFacility: settings.receivingFacility,
      charset: settings.charset ?? 'UNICODE UTF-8',
      processingId: settings.processingId ?? 'P',
      segments,
      inbound,
      outbound,
    };
  }
}

export const hl7v2: ProtocolMapping = {
  protocol: 'hl7v2',
  inputName: 'an HL7 message',
  compiler: (cx) => new Hl7Compiler(cx),
  accepts: (input) => input instanceof Hl7Message,
  toCanonical: (plan, input, ctx) => hl7ToCanonical(plan, input as Hl7Message, ctx),
  // A message is written whole: there is no current one to start from.
  fromCanonical: (plan, change, ctx) => canonicalToHl7(plan, change, ctx),
  outboundKinds: (plan) => new Set(plan.hl7?.outbound.keys() ?? []),
};
