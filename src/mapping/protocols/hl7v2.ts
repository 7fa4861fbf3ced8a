/**
 * HL7 v2 ↔ canonical through a compiled plan.
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
import { formatHl7Timestamp, type Hl7Charset, type Hl7Message, Hl7MessageBuilder, type Hl7Path, parseHl7Path, resolveCharset } from '../../hl7/index.js';
import { isPasserelleError, PasserelleError } from '../../errors.js';
import type { ResourceKind } from '../../model/resources.js';
import { applyInbound, outboundValue, report, reportFailure, type RunState } from '../run/apply.js';
import type { CanonicalChange, FromCanonicalResult, MappingContext, ToCanonicalResult } from '../run/types.js';
import { passesFilters } from '../run/filters.js';
import { writePath as writeCanonical } from '../run/element-path.js';
import { formatHl7Path, readHl7, type SelectorCache, withRepetition } from './hl7v2-path.js';
import type { CompiledKind, CompiledRule, Hl7Plan, MappingPlan, ProtocolAccessor } from '../compile/plan.js';
import { detectEvent, failedFromCanonical, failedToCanonical, finishRecords, fromCanonicalResult, type RecordDraft, toCanonicalResult } from '../run/records.js';
import type { FieldReport } from '../run/report.js';
import { durationMinutes, hl7TimestampToMillis, TransformError } from '../run/transforms.js';

const DEFAULT_ZONE = 'Europe/Paris';
const MSH_7 = parseHl7Path('MSH-7');

function read(msg: Hl7Message, a: ProtocolAccessor, cache?: SelectorCache): string | undefined {
  return a.protocol === 'hl7v2' ? readHl7(msg, a.hl7, cache) : undefined;
}

function readFirst(msg: Hl7Message, list: readonly ProtocolAccessor[], cache: SelectorCache): { value: string; path: string } | undefined {
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
function buildKind(msg: Hl7Message, ck: CompiledKind, st: RunState, cache: SelectorCache, optional: boolean, defaultId: string | undefined, fallbacks: ReadonlyMap<string, string>): { data: Record<string, unknown>; externalId: string | undefined; ok: boolean } {
  const data: Record<string, unknown> = {};
  let ok = true;
  const id = readFirst(msg, ck.idFrom, cache);
  if (!id && optional) {
    // A kind the message may lack (an SIU's practitioner): left out, the rest applied, with the
    // link's default in its place when it has one.
    const flag = `${ck.kind.toLowerCase()}-${defaultId === undefined ? 'missing' : 'defaulted'}`;
    st.flags.add(flag);
    st.report.push({ rule: `${ck.kind}.id`, kind: ck.kind, protocolPath: ck.idText, canonicalPath: 'id', status: defaultId === undefined ? 'unmapped' : 'defaulted', code: 'ERR_MAPPING_MISSING_ID', note: `no record id in the message: ${ck.kind} ${defaultId === undefined ? 'left out' : "taken from the link's default"}; flag ${flag}` });
    return { data, externalId: undefined, ok: true };
  }
  st.report.push({ rule: `${ck.kind}.id`, kind: ck.kind, protocolPath: id?.path ?? ck.idText, canonicalPath: 'id', status: id ? 'mapped' : 'error', ...(!id && { code: 'ERR_MAPPING_MISSING_ID' as const, note: 'no record id in the message' }) });
  if (!id) ok = false;
  for (const rule of ck.inboundRules) {
    let raw: string | undefined;
    let used: string | null = null;
    for (const [i, a] of rule.from.entries()) {
      raw = read(msg, a, cache);
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
    if (!applyInbound(rule, raw, used, holds, data, st)) ok = false;
  }
  return { data, externalId: id?.value, ok };
}

/**
 * An appointment with a start and no end ends `minutesDuration` later (FHIR R4
 * Appointment.minutesDuration; SIU gives the duration in SCH-9/SCH-10, SCH-11.3 or the AIS/AIG/
 * AIL/AIP resource segments rather than an end), else after its appointment type's minutes
 * (`appointmentTypes`); else it is flagged `appointment-end-unknown` with a warning.
 */
function completeEnd(plan: MappingPlan, data: Record<string, unknown>, st: RunState): void {
  const start = data['start'];
  if (typeof start !== 'string' || data['end'] !== undefined) return;
  let minutes = typeof data['minutesDuration'] === 'number' ? data['minutesDuration'] : undefined;
  let source = 'minutesDuration';
  if (minutes === undefined) {
    const code = serviceTypeCode(data);
    minutes = plan.appointmentTypes.find((t) => t.code === code)?.minutes;
    source = `appointmentTypes[code=${String(code)}].minutes`;
    if (minutes !== undefined) data['minutesDuration'] = minutes;
  }
  if (minutes === undefined || minutes <= 0) {
    st.flags.add('appointment-end-unknown');
    st.report.push({ rule: 'Appointment.end', kind: 'Appointment', protocolPath: null, canonicalPath: 'end', status: 'unmapped', code: 'ERR_MAPPING_RECORD_INVALID', note: 'no end, duration or appointment type duration; flag appointment-end-unknown' });
    return;
  }
  data['end'] = new Date(Date.parse(start) + minutes * 60_000).toISOString();
  st.report.push({ rule: 'Appointment.end', kind: 'Appointment', protocolPath: null, canonicalPath: 'end', status: 'defaulted', note: `start + ${source}` });
}

function serviceTypeCode(data: Record<string, unknown>): string | undefined {
  const st = data['serviceType'];
  const coding = Array.isArray(st) ? (st[0] as { coding?: unknown } | undefined)?.coding : undefined;
  const code = Array.isArray(coding) ? (coding[0] as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** Every field present in the message that no rule of the produced kinds reads (CLI, dry-run). */
function inventory(msg: Hl7Message, plan: MappingPlan, kinds: readonly ResourceKind[], extra: readonly ProtocolAccessor[]): FieldReport[] {
  const read = new Set<string>();
  const note = (a: ProtocolAccessor) => {
    if (a.protocol === 'hl7v2') read.add(`${a.hl7.path.segment}[${a.hl7.path.occurrence ?? 1}]-${a.hl7.path.field}`);
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
      out.push({ rule: '(not in profile)', kind: null, protocolPath: seg.occurrence > 1 ? key : `${seg.name}-${f}`, canonicalPath: null, status: 'unmapped', note: 'present in the message, not read by the profile' });
    }
  }
  return out;
}

export function hl7ToCanonical(plan: MappingPlan, msg: Hl7Message, ctx: MappingContext = {}): ToCanonicalResult {
  const hl7 = plan.hl7 as Hl7Plan;
  const type = msg.header.messageType ?? '(no MSH-9)';
  const rule = hl7.inbound.get(type);
  if (!rule) {
    return failedToCanonical(type, new PasserelleError('ERR_MAPPING_UNSUPPORTED_MESSAGE', `profile ${plan.name} accepts no ${type} message (accepted: ${[...hl7.inbound.keys()].join(', ')})`, { details: { messageType: type, profile: plan.name } }));
  }
  const timezone = ctx.timezone ?? plan.timezone ?? DEFAULT_ZONE;
  const st: RunState = { report: [], flags: new Set(), tctx: { timezone } };
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
    if (dflt !== undefined && ck && readFirst(msg, ck.idFrom, cache) === undefined) fallbacks.set(ck.idFrom.map((a) => a.text).join(' | '), dflt);
  }
  for (const kind of rule.records) {
    const ck = plan.kinds[kind] as CompiledKind;
    const built = buildKind(msg, ck, st, cache, rule.optional.has(kind), rule.optional.has(kind) ? ctx.defaultIds?.[kind] : undefined, fallbacks);
    for (const s of rule.set.get(kind) ?? []) {
      // Message constants replace what a rule wrote (SIU^S15: status cancelled whatever SCH-25 says).
      writeCanonical(built.data, s.steps, s.value);
      st.report.push({ rule: `messages.inbound.${type}.set`, kind, protocolPath: type, canonicalPath: s.text.slice(kind.length + 1), status: 'mapped', note: 'message constant' });
    }
    let supersedes: string[] | undefined;
    if (rule.supersedes?.kind === kind) {
      supersedes = [];
      for (const a of rule.supersedes.from) {
        const v = read(msg, a, cache);
        // A message giving only the placer id (SCH-1) is known by it: it replaces nothing.
        if (v !== undefined && v !== built.externalId) supersedes.push(v);
      }
      st.report.push({ rule: `messages.inbound.${type}.supersedes`, kind, protocolPath: rule.supersedes.from.map((a) => a.text).join(' | '), canonicalPath: null, status: supersedes.length > 0 ? 'mapped' : 'unmapped', note: 'ids this record replaces' });
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
  'ADT^A01': 'ADT_A01', 'ADT^A04': 'ADT_A01', 'ADT^A08': 'ADT_A01', 'ADT^A28': 'ADT_A05', 'ADT^A31': 'ADT_A05',
  'ADT^A40': 'ADT_A39', 'ADT^A47': 'ADT_A30', 'MDM^T02': 'MDM_T02', 'ORU^R01': 'ORU_R01',
};
function structureOf(type: string): string {
  if (type.startsWith('SIU^')) return 'SIU_S12';
  return STRUCTURES[type] ?? type.replace('^', '_');
}

export function canonicalToHl7(plan: MappingPlan, change: CanonicalChange, ctx: MappingContext = {}): FromCanonicalResult {
  const hl7 = plan.hl7 as Hl7Plan;
  const event = detectEvent(change);
  const ck = plan.kinds[change.kind];
  if (!ck?.outbound) {
    return failedFromCanonical(event, new PasserelleError('ERR_MAPPING_UNSUPPORTED_MESSAGE', `profile ${plan.name} does not sync ${change.kind} from-canonical`, { details: { kind: change.kind, profile: plan.name } }));
  }
  const filter = passesFilters(plan, change.data, change.externalId ?? undefined);
  if (!filter.pass) return fromCanonicalResult(event, [], { skipped: filter.reason });
  const ob = hl7.outbound.get(change.kind);
  const type = ob?.events.get(event);
  if (!ob || !type) {
    return failedFromCanonical(event, new PasserelleError('ERR_MAPPING_NO_OUTBOUND', `profile ${plan.name} names no outbound message for ${change.kind} ${event} (messages.outbound.${change.kind}.events.${event})`, { details: { kind: change.kind, event, profile: plan.name } }));
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
  const push = (path: Hl7Path, value: string, rule: string) => writes.push({ path, value, order: orderOf(path.segment), seq: writes.length, rule });

  /** Where one accessor writes; a selector reuses or allocates its repetition and writes its value. */
  const target = (a: ProtocolAccessor, rule: string): Hl7Path | undefined => {
    if (a.protocol !== 'hl7v2') return undefined;
    const p = a.hl7;
    if (!p.selector) return p.path;
    const reps = alloc.get(p.fieldKey) ?? [];
    alloc.set(p.fieldKey, reps);
    const key = `${p.selector.component}.${p.selector.subcomponent ?? 1}=${p.selector.value}`;
    let at = reps.indexOf(key);
    if (at < 0) {
      at = 0;
      while (reps[at] !== undefined) at++;
      reps[at] = key;
      push(withRepetition(p.path, at + 1, p.selector.component, p.selector.subcomponent), p.selector.value, rule);
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
  for (const [p, v] of msh) if (v !== undefined) push({ segment: 'MSH', occurrence: undefined, field: Number(p.slice(4).split('.')[0]), repetition: undefined, component: p.includes('.') ? Number(p.split('.')[1]) : undefined, subcomponent: undefined }, v, 'MSH');

  // `known`: passerelle's id, when the peer knows the record by it (it was created from here).
  const records: { kind: ResourceKind; data: unknown; externalId: string | null; canonicalId: string | undefined; known: string | undefined }[] = [
    { kind: change.kind, data: change.data, externalId: change.externalId, canonicalId: change.canonicalId, known: change.canonicalId },
  ];
  for (const inc of ob.include) {
    const rel = change.related?.find((r) => r.data.resourceType === inc);
    if (rel) records.push({ kind: inc, data: rel.data, externalId: rel.externalId, canonicalId: rel.canonicalId ?? rel.data.id, known: rel.canonicalId });
    else {
      st.flags.add(`missing-related-${inc.toLowerCase()}`);
      st.report.push({ rule: `messages.outbound.${change.kind}.include`, kind: inc, protocolPath: null, canonicalPath: null, status: 'unmapped', note: `no related ${inc} given: its segments are not written` });
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
        own.push({ accessor: primary, value: String(v.value), rule: rule.label, protocolSet: rule.protocolSet, compiled: rule });
        report(st, rule, v.defaulted ? 'defaulted' : 'mapped', primary.text, { ...(v.constant && { note: 'constant' }), ...(v.defaulted && { note: 'canonical value not in map: default' }) });
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
          report(st, p.compiled, 'unmapped', p.accessor.text, { note: `dropped: condition not met${p.compiled.flag ? `, flag ${p.compiled.flag}` : ''}` });
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
      st.report.push({ rule: `${rec.kind}.id`, kind: rec.kind, protocolPath: k.newId.text, canonicalPath: 'id', status: 'mapped', note: 'passerelle id' });
    } else if (rec.externalId !== null && idPath && !k.idWrittenByRule) {
      pending.push({ accessor: idPath, value: rec.externalId, rule: `${rec.kind}.id`, protocolSet: [] });
      st.report.push({ rule: `${rec.kind}.id`, kind: rec.kind, protocolPath: idPath.text, canonicalPath: 'id', status: 'mapped' });
    }
  }
  for (const p of pending) {
    if (p.accessor.protocol !== 'hl7v2' || p.accessor.hl7.selector) continue;
    const reps = alloc.get(p.accessor.hl7.fieldKey) ?? [];
    alloc.set(p.accessor.hl7.fieldKey, reps);
    const r = typeof p.accessor.hl7.path.repetition === 'number' ? p.accessor.hl7.path.repetition : 1;
    reps[r - 1] ??= '#plain';
  }
  for (const p of pending) {
    const t = target(p.accessor, p.rule);
    if (!t) continue;
    push(t, p.value, p.rule);
    for (const ps of p.protocolSet) {
      if (ps.component === undefined) continue;
      push({ ...t, repetition: t.repetition ?? 1, component: ps.component, subcomponent: ps.subcomponent }, ps.value, p.rule);
    }
  }

  writes.sort((a, b) => a.order - b.order || (a.path.segment === b.path.segment ? (a.path.occurrence ?? 1) - (b.path.occurrence ?? 1) : 0) || a.seq - b.seq);
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
      st.report.push({ rule: w.rule, kind: change.kind, protocolPath: formatHl7Path(w.path), canonicalPath: null, status: 'error', code: 'ERR_MAPPING_NO_OUTBOUND', note: e.message });
    }
  }
  const encoded = builder.encode();
  return fromCanonicalResult(event, st.report, { hl7: { messageType: type, text: encoded.text, bytes: encoded.bytes, charset: encoded.charset } });
}
