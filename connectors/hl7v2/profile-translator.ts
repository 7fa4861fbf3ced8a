/**
 * The product HL7 translator: the link's mapping profile (mappings/*.yaml, or the custom version
 * put through the admin API) run by the mapping engine (src/mapping, docs/mappings.md).
 *
 * - Inbound: `toCanonical(plan, message, { timezone, testLink, validate: false })` — the sync
 *   engine validates every record it applies, so the mapping does not validate twice. A message
 *   type the profile does not take is `ERR_HL7_UNSUPPORTED_MESSAGE` (answered AR, table 0357
 *   code 200 for the type, 201 for the trigger event); a rule that fails keeps its mapping code
 *   (ERR_MAPPING_TRANSFORM, ERR_MAPPING_UNMAPPED_CODE, ERR_MAPPING_MISSING_ID…) and gains the HL7
 *   path and 0357 code for the ERR segment (answered AE, ERR-2 = the field).
 * - Outbound: `fromCanonical(plan, change + related records, { controlId, now })`: the change's
 *   event picks the message (SIU S12/S13/S14/S15/S17/S26, ADT A28/A31, MDM T02 or ORU R01 …
 *   as the profile says); an appointment's patient and practitioner come from
 *   `OutboundChange.related` (PID, AIP-3).
 *
 * The plan comes from the runtime's one plan cache (ConnectorContext: `currentMapping`, read
 * synchronously for each message — a message must not wait on the store), which reloads it when
 * the link's profile changes; the translator keeps no cache, timer or listener of its own. It
 * loads the plan once when the link starts (an unusable profile keeps the link from starting),
 * and a replay (`remap`) reloads it first (`reloadMapping`), so it maps with the current
 * profile. Without a runtime (tests, benchmarks), the plan loaded at start is the one run.
 */
import type { ConnectorContext, LinkMapping, OutboundChange } from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import type { Hl7ErrorCode, Hl7Message } from '../../src/hl7/index.js';
import type { Logger } from '../../src/log/logger.js';
import { fromCanonical, type MappingPlan, shippedPlan, toCanonical } from '../../src/mapping/index.js';
import type { Appointment } from '../../src/model/resources.js';
import type { Link } from '../../src/store/types.js';
import type {
  Hl7InboundTranslation,
  Hl7OutboundContext,
  Hl7OutboundTranslation,
  Hl7Translator,
  Hl7TranslatorContext,
} from './translator.js';

/** The shipped profile an hl7v2 link runs when its `profile` is null. */
export const DEFAULT_PROFILE = 'hl7v2-ihe-pam-fr';

export interface ProfileTranslatorOptions {
  readonly link: Link;
  /** The practice's zone, for the fallback below. */
  readonly timezone: string;
  /** How the link's running mapping is read (ConnectorContext.mapping); without it, its shipped profile. */
  readonly mapping?: () => Promise<LinkMapping>;
  /** The runtime's cached mapping, synchronously (ConnectorContext.currentMapping). */
  readonly currentMapping?: () => LinkMapping | undefined;
  /** Reads it again from the store (ConnectorContext.reloadMapping), before a replay. */
  readonly reloadMapping?: () => Promise<LinkMapping>;
  readonly log: Logger;
  /** The link's `defaultPractitioner` (config.ts): an SIU naming none gets it. */
  readonly defaultPractitioner?: string;
}

/** HL7 table 0357 code for a mapping failure, for ERR-3. */
const CODE_0357: Readonly<Record<string, Hl7ErrorCode>> = {
  ERR_MAPPING_MISSING_ID: '101',
  ERR_MAPPING_TRANSFORM: '102',
  ERR_MAPPING_RECORD_INVALID: '102',
  ERR_MAPPING_UNMAPPED_CODE: '103',
};

/**
 * The plain HL7 path (the codec's syntax, for ERR-2) of a profile path: `PID-3[4.2=…].1` and
 * `PID-13[3=CP].12` name the field (`PID-3`, `PID-13`): which repetition the selector would
 * have picked is not known once it failed; `SCH-11.4` stays as it is.
 */
export function errorLocation(profilePath: string | null | undefined): string | undefined {
  if (!profilePath) return undefined;
  const first = profilePath.split(/\s*[|,]\s*/)[0] ?? '';
  const m = /^([A-Z][A-Z0-9]{2}(?:\[\d+\])?-\d+)(\[[^\]]*\]|(?:\.\d+){0,2})?/.exec(first);
  if (!m) return undefined;
  const [, field, rest] = m as unknown as [string, string, string | undefined];
  return rest === undefined || rest.startsWith('[') ? field : `${field}${rest}`;
}

export class ProfileTranslator implements Hl7Translator {
  /** What start (or a refresh) loaded: run when the runtime's cache has nothing (no runtime). */
  #loaded: LinkMapping | undefined;
  #loading: Promise<LinkMapping> | undefined;

  constructor(private readonly options: ProfileTranslatorOptions) {}

  /** Loads the plan; throws ERR_CONNECTOR_CONFIG_INVALID when the link has no usable HL7 profile. */
  async start(): Promise<void> {
    this.#loaded = await this.load(this.options.mapping);
  }

  /** Reads the link's plan again; on failure the running plan stays and the error is thrown. */
  async refresh(): Promise<void> {
    try {
      const next = await this.load(this.options.reloadMapping ?? this.options.mapping);
      if (this.plan?.hash !== next.plan.hash) {
        this.options.log.info('hl7 mapping profile loaded', {
          profile: next.plan.name,
          hash: next.plan.hash.slice(0, 12),
        });
      }
      this.#loaded = next;
    } catch (e) {
      this.options.log.warn('hl7 mapping profile not reloaded; the running one stays', {
        code: isPasserelleError(e) ? e.code : 'ERR_INTERNAL',
      });
      throw e;
    }
  }

  async stop(): Promise<void> {}

  /** The plan in use (tests, health). */
  get plan(): MappingPlan | undefined {
    return this.current()?.plan;
  }

  /** The runtime cache's plan when it holds one for the link, else what start loaded. */
  private current(): LinkMapping | undefined {
    const cached = this.options.currentMapping?.();
    return cached && cached.plan.protocol === 'hl7v2' && cached.plan.hl7 ? cached : this.#loaded;
  }

  private load(from: (() => Promise<LinkMapping>) | undefined): Promise<LinkMapping> {
    this.#loading ??= this.read(from).finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  private async read(from: (() => Promise<LinkMapping>) | undefined): Promise<LinkMapping> {
    const { link } = this.options;
    let m: LinkMapping;
    try {
      m = from
        ? await from()
        : {
            plan: shippedPlan(link.profile ?? DEFAULT_PROFILE),
            context: { timezone: this.options.timezone, testLink: link.isTest },
          };
    } catch (e) {
      if (isPasserelleError(e) && e.retryable) throw e;
      const why = isPasserelleError(e) ? e.message : 'the profile could not be loaded';
      throw new PasserelleError(
        'ERR_CONNECTOR_CONFIG_INVALID',
        `link ${link.id}: no usable HL7 mapping profile: ${why}`,
        {
          cause: e,
          details: { linkId: link.id, profile: link.profile },
          issues: [{ path: 'profile', message: why }],
        },
      );
    }
    if (m.plan.protocol !== 'hl7v2' || !m.plan.hl7) {
      throw new PasserelleError(
        'ERR_CONNECTOR_CONFIG_INVALID',
        `link ${link.id}: profile ${m.plan.name} is ${m.plan.protocol}; an HL7 v2 link needs an hl7v2 profile`,
        {
          details: { linkId: link.id, profile: m.plan.name },
          issues: [{ path: 'profile', message: `profile ${m.plan.name} is ${m.plan.protocol}, not hl7v2` }],
        },
      );
    }
    return m;
  }

  private running(): LinkMapping {
    const current = this.current();
    if (!current) {
      throw new PasserelleError(
        'ERR_SYNC_NOT_RUNNING',
        `link ${this.options.link.id}: the HL7 mapping profile is not loaded yet; retry later`,
        { retryAfterSeconds: 1 },
      );
    }
    return current;
  }

  toRecords(message: Hl7Message, ctx: Hl7TranslatorContext): Hl7InboundTranslation {
    const { plan, context } = this.running();
    const practitioner = this.options.defaultPractitioner;
    const r = toCanonical(plan, message, {
      timezone: context.timezone ?? ctx.timezone,
      testLink: context.testLink ?? ctx.testLink,
      validate: false,
      ...(practitioner !== undefined && { defaultIds: { Practitioner: practitioner } }),
    });
    if (r.error) throw this.inboundError(plan, message, r.error);
    return { records: r.records, flags: r.flags };
  }

  private inboundError(plan: MappingPlan, message: Hl7Message, e: PasserelleError): PasserelleError {
    if (e.code === 'ERR_MAPPING_UNSUPPORTED_MESSAGE') {
      // Table 0357: 201 when the profile takes other events of this message type, 200 otherwise.
      const code = message.header.messageCode ?? '';
      const knownType = [...(plan.hl7?.inbound.keys() ?? [])].some((t) => t.startsWith(`${code}^`));
      return new PasserelleError('ERR_HL7_UNSUPPORTED_MESSAGE', e.message, {
        cause: e,
        details: {
          ...e.details,
          hl7Path: knownType ? 'MSH-9.2' : 'MSH-9',
          hl7ErrorCode: knownType ? '201' : '200',
        },
      });
    }
    const at = errorLocation(
      typeof e.details['protocolPath'] === 'string' ? e.details['protocolPath'] : undefined,
    );
    return new PasserelleError(e.code, e.message, {
      cause: e,
      issues: e.issues,
      details: {
        ...e.details,
        ...(at !== undefined && { hl7Path: at }),
        hl7ErrorCode: CODE_0357[e.code] ?? '207',
      },
    });
  }

  fromChange(change: OutboundChange, ctx: Hl7OutboundContext): Hl7OutboundTranslation {
    const { plan, context } = this.running();
    const r = fromCanonical(
      plan,
      {
        op: change.op,
        kind: change.kind,
        canonicalId: change.canonicalId,
        externalId: change.externalId,
        data: withDuration(change.data),
        base: change.base,
        related: (change.related ?? []).map((x) => ({
          data: x.data,
          externalId: x.externalId,
          canonicalId: x.canonicalId,
        })),
      },
      {
        timezone: context.timezone ?? ctx.timezone,
        testLink: context.testLink ?? ctx.testLink,
        now: () => ctx.timestamp.getTime(),
        controlId: ctx.controlId,
      },
    );
    if (r.skipped !== undefined) return { skipped: r.skipped };
    if (r.error || !r.hl7) {
      throw (
        r.error ??
        new PasserelleError(
          'ERR_MAPPING_NO_OUTBOUND',
          `profile ${plan.name} rendered no HL7 message for ${change.kind} ${r.event}`,
          { details: { kind: change.kind, event: r.event } },
        )
      );
    }
    return {
      message: r.hl7.bytes,
      externalId: change.externalId ?? change.canonicalId,
      messageType: r.hl7.messageType,
    };
  }
}

/**
 * SIU carries the duration beside the times (SCH-9 / TQ1, HL7 v2.5 §10.6.2.9): a booking that
 * has start and end but no minutesDuration (the secretariat's) gets it from them.
 */
function withDuration<T extends OutboundChange['data']>(data: T): T {
  if (data.resourceType !== 'Appointment') return data;
  const a = data as Appointment;
  if (a.minutesDuration !== undefined || !a.start || !a.end) return data;
  const minutes = Math.round((Date.parse(a.end) - Date.parse(a.start)) / 60_000);
  return minutes > 0 ? ({ ...a, minutesDuration: minutes } as T) : data;
}

/** The factory `hl7v2Connector({ translator })` takes: the link's profile through the mapping engine. */
export function profileTranslatorFactory() {
  return (
    config: { readonly defaultPractitioner?: string | undefined } | undefined,
    ctx: Pick<ConnectorContext, 'link' | 'timezone' | 'log' | 'mapping' | 'currentMapping' | 'reloadMapping'>,
  ): ProfileTranslator =>
    new ProfileTranslator({
      link: ctx.link,
      timezone: ctx.timezone,
      log: ctx.log,
      ...(ctx.mapping && { mapping: ctx.mapping }),
      ...(ctx.currentMapping && { currentMapping: ctx.currentMapping }),
      ...(ctx.reloadMapping && { reloadMapping: ctx.reloadMapping }),
      ...(config?.defaultPractitioner !== undefined && { defaultPractitioner: config.defaultPractitioner }),
    });
}
