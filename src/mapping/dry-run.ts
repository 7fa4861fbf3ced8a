/**
 * Running a profile on one sample without side effects: what `passerelle mapping test` prints
 * and `POST /api/v1/links/:id/mapping/dry-run` returns. To canonical, the sample is mapped, then
 * rendered back the other way (so an integrator sees both directions of the same profile);
 * from canonical, the sample is a canonical resource (or a list: the record, then its related
 * records) rendered as the protocol's message or resource.
 */
import type { ErrorIssue } from '../errors.js';
import { PasserelleError } from '../errors.js';
import { parseHl7 } from '../hl7/index.js';
import type { ExternalRecord } from '../model/records.js';
import { type CanonicalResource, RESOURCE_KINDS, type ResourceKind } from '../model/resources.js';
import type { MappingPlan } from './compile/plan.js';
import type { Direction } from './compile/schema.js';
import { protocolMapping } from './protocols/index.js';
import { fromCanonical, toCanonical } from './run/engine.js';
import type { FieldReport } from './run/report.js';
import type { FhirResource, FromCanonicalResult, MappingContext, RelatedRecord } from './run/types.js';

export interface DryRunOptions {
  readonly direction?: Direction;
  readonly ctx?: MappingContext;
  /** The peer's current FHIR resource, for an outbound update (unmapped elements kept). */
  readonly current?: FhirResource;
  /** HL7 charset when MSH-18 is empty. */
  readonly defaultCharset?: string;
}

export interface DryRunResult {
  readonly ok: boolean;
  readonly direction: Direction;
  readonly protocol: MappingPlan['protocol'];
  /** `SIU^S12`, the FHIR resource type, or the outbound message type. */
  readonly messageType: string | undefined;
  /** Canonical records: produced (to-canonical) or given (from-canonical). */
  readonly records: readonly ExternalRecord[];
  /** The protocol side: the rendered message (HL7 text, segments ending in CR) or FHIR resource. */
  readonly rendered:
    | {
        readonly event: string;
        readonly messageType?: string;
        readonly hl7?: string;
        readonly fhir?: FhirResource;
      }
    | undefined;
  /** The rules of the requested direction, then (to-canonical) the inventory of unread input. */
  readonly report: readonly FieldReport[];
  /** The report of the rendering the other way (to-canonical only). */
  readonly renderReport: readonly FieldReport[];
  readonly flags: readonly string[];
  readonly issues: readonly ErrorIssue[];
  readonly error?: { readonly code: string; readonly message: string };
}

function looksLikeHl7(input: Buffer | string): boolean {
  const head = (typeof input === 'string' ? input.slice(0, 8) : input.subarray(0, 8).toString('latin1'))
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
    .trimStart();
  return head.startsWith('MSH');
}

function parseJson(input: Buffer | string | object): unknown {
  if (typeof input === 'object' && !Buffer.isBuffer(input)) return input;
  try {
    return JSON.parse(typeof input === 'string' ? input : input.toString('utf8'));
  } catch {
    throw new PasserelleError(
      'ERR_VALIDATION',
      'the sample is neither an HL7 message (starting with MSH) nor JSON',
    );
  }
}

const isKind = (k: unknown): k is ResourceKind =>
  typeof k === 'string' && (RESOURCE_KINDS as readonly string[]).includes(k);

/** The record a rendering starts from: the last kind with outbound events, others as related. */
function primaryOf(
  plan: MappingPlan,
  records: readonly ExternalRecord[],
): { primary: ExternalRecord; related: RelatedRecord[] } | undefined {
  const outboundKinds = protocolMapping(plan.protocol).outboundKinds(plan);
  const candidates = records.filter((r) => outboundKinds.has(r.kind));
  const primary = candidates[candidates.length - 1];
  if (!primary) return undefined;
  return {
    primary,
    related: records.filter((r) => r !== primary).map((r) => ({ data: r.data, externalId: r.externalId })),
  };
}

function rendered(r: FromCanonicalResult): DryRunResult['rendered'] {
  const messageType = r.hl7?.messageType ?? (r.fhir ? String(r.fhir.resourceType) : undefined);
  return {
    event: r.event,
    ...(messageType && { messageType }),
    ...(r.hl7 && { hl7: r.hl7.text }),
    ...(r.fhir && { fhir: r.fhir }),
  };
}

/** Maps one sample with a plan; throws only for an unreadable sample (ERR_HL7_PARSE, ERR_VALIDATION). */
export function dryRun(
  plan: MappingPlan,
  input: Buffer | string | object,
  options: DryRunOptions = {},
): DryRunResult {
  const direction = options.direction ?? 'to-canonical';
  const ctx: MappingContext = { ...options.ctx, inventory: true };
  if (direction === 'to-canonical') {
    let parsed;
    // A resource read is the current one its rendering back starts from (an HL7 message has none).
    let current: FhirResource | undefined;
    if ((typeof input === 'string' || Buffer.isBuffer(input)) && looksLikeHl7(input)) {
      parsed = parseHl7(input, options.defaultCharset ? { defaultCharset: options.defaultCharset } : {});
    } else {
      const json = parseJson(input);
      if (
        typeof json !== 'object' ||
        json === null ||
        typeof (json as { resourceType?: unknown }).resourceType !== 'string'
      ) {
        throw new PasserelleError(
          'ERR_VALIDATION',
          'the JSON sample is not a FHIR resource (no resourceType)',
        );
      }
      parsed = json as FhirResource;
      current = parsed;
    }
    const res = toCanonical(plan, parsed, ctx);
    let back: FromCanonicalResult | undefined;
    const p = res.ok ? primaryOf(plan, res.records) : undefined;
    if (p) {
      back = fromCanonical(
        plan,
        {
          op: p.primary.deleted ? 'delete' : 'upsert',
          kind: p.primary.kind,
          externalId: p.primary.externalId,
          data: p.primary.data,
          base: null,
          related: p.related,
        },
        ctx,
        current,
      );
    }
    return {
      ok: res.ok,
      direction,
      protocol: plan.protocol,
      messageType: res.messageType,
      records: res.records,
      rendered: back ? rendered(back) : undefined,
      report: res.report,
      renderReport: back?.report ?? [],
      flags: res.flags,
      issues: res.issues,
      ...(res.error && { error: { code: res.error.code, message: res.error.message } }),
    };
  }

  const json = parseJson(input);
  const list = (Array.isArray(json) ? json : [json]) as unknown[];
  const resources = list.filter(
    (x): x is CanonicalResource =>
      typeof x === 'object' && x !== null && isKind((x as { resourceType?: unknown }).resourceType),
  );
  if (resources.length === 0 || resources.length !== list.length) {
    throw new PasserelleError(
      'ERR_VALIDATION',
      `a from-canonical sample is a canonical resource (resourceType one of ${RESOURCE_KINDS.join(', ')}), or a list of them: the record first, then related records`,
    );
  }
  const [primary, ...related] = resources as [CanonicalResource, ...CanonicalResource[]];
  const res = fromCanonical(
    plan,
    {
      op: 'upsert',
      kind: primary.resourceType,
      externalId: primary.id,
      canonicalId: primary.id,
      data: primary,
      base: null,
      related: related.map((r) => ({ data: r, externalId: r.id })),
    },
    ctx,
    options.current,
  );
  return {
    ok: res.ok,
    direction,
    protocol: plan.protocol,
    messageType: res.hl7?.messageType ?? (res.fhir ? String(res.fhir.resourceType) : undefined),
    records: resources.map((r) => ({ kind: r.resourceType, externalId: r.id, data: r })),
    rendered: rendered(res),
    report: res.report,
    renderReport: [],
    flags: [],
    issues: res.issues,
    ...(res.error && { error: { code: res.error.code, message: res.error.message } }),
  };
}
