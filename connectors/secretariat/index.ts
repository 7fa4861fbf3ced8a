/**
 * The secretariat connector: speaks the platform contract of ./openapi.yaml for one link.
 * - pull: reads `GET /changes?since=` (the truth; the engine's scheduler calls it on the link's
 *   node-cron schedule, DEFAULT_POLL_SCHEDULE when the link sets none);
 * - receiveHttp: signed webhooks (a low-latency hint), verified on the raw bytes first;
 * - push: writes with Idempotency-Key = the change's key, If-Match = the version last seen.
 * Credentials come from `ctx.secrets`: `{ apiToken, webhookSecret, webhookSecretPrevious? }`.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

import { z } from 'zod';

import {
  type AgendaPublishResult,
  type CallbackRequestInput,
  type Connector,
  type ConnectorContext,
  type CoveragePublicationInput,
  defineConnector,
  type ExternalRecord,
  type HealthReport,
  type InboundMessage,
  type OutboundChange,
  type PullPage,
  type PushResult,
  type SlotPublicationInput,
} from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import type {
  Appointment,
  Communication,
  Patient,
  Practitioner,
  Schedule,
  Slot,
} from '../../src/model/resources.js';
import { webhookKey } from '../../src/security/webhook-signature.js';
import { DEFAULT_RETRY_POLICY, SecretariatClient, type SecretariatClientOptions } from './client.js';
import {
  type AppointmentTypeInput,
  AppointmentUpdate,
  type Change,
  PlatformId,
  type ResourceOfType,
  type ResourceType,
  WebhookPayload,
} from './contract.js';
import {
  appointmentFromCanonical,
  type AppointmentWrite,
  changeToRecord,
  heldOnPlatform,
  isNews,
  parseChange,
  patientFromCanonical,
  platformView,
  practitionerFromCanonical,
  scheduleFromCanonical,
  slotFromCanonical,
  slotStatusFromCanonical,
  toCanonical,
  TYPE_OF_KIND,
  utc,
} from './mapping.js';
import { secretariatSimulator } from './simulator/command.js';
import { receiveWebhook } from './webhook-receiver.js';

/** Every 30 seconds: the feed is cheap to read and catches what webhooks missed (design rule 5). */
export const DEFAULT_POLL_SCHEDULE = '*/30 * * * * *';

export const SecretariatConfig = z.strictObject({
  /** Platform root URL; the API lives under `/v1/practices/{platformPracticeId}`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  platformPracticeId: PlatformId,
  /** Per HTTP attempt. */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  retry: z
    .strictObject({
      maxAttempts: z.number().int().min(1).max(10).default(DEFAULT_RETRY_POLICY.maxAttempts),
      baseDelayMs: z.number().int().min(1).max(60_000).default(DEFAULT_RETRY_POLICY.baseDelayMs),
      maxDelayMs: z.number().int().min(1).max(600_000).default(DEFAULT_RETRY_POLICY.maxDelayMs),
      maxRetryAfterSeconds: z
        .number()
        .int()
        .min(0)
        .max(3600)
        .default(DEFAULT_RETRY_POLICY.maxRetryAfterSeconds),
    })
    .default(DEFAULT_RETRY_POLICY),
  /**
   * The practice's appointment types (motifs) with their instructions for agents (consignes),
   * published to the platform before the first pull or push; the platform cannot change them.
   */
  appointmentTypes: z
    .array(
      z.strictObject({
        id: PlatformId,
        label: z.string().min(1).max(200),
        durationMinutes: z.number().int().min(5).max(480),
        instructions: z.string().max(4000).nullable().default(null),
        practitionerIds: z.array(PlatformId).default([]),
        active: z.boolean().default(true),
      }),
    )
    .default([]),
});
export type SecretariatConfig = z.infer<typeof SecretariatConfig>;

export const SecretariatSecrets = z.strictObject({
  apiToken: z.string().min(1),
  /** Standard Webhooks secret (`whsec_…`); without one, every webhook is refused (polling still works). */
  webhookSecret: z.string().optional(),
  /** The previous secret, accepted too while the platform rotates. */
  webhookSecretPrevious: z.string().optional(),
});
export type SecretariatSecrets = z.infer<typeof SecretariatSecrets>;

/** What tests inject instead of real waiting and randomness. */
export interface SecretariatDeps {
  readonly sleep?: SecretariatClientOptions['sleep'];
  readonly random?: () => number;
}

function readSecrets(ctx: ConnectorContext): { apiToken: string; webhookSecrets: string[] } {
  const parsed = SecretariatSecrets.safeParse(ctx.secrets ?? {});
  if (!parsed.success) {
    throw new PasserelleError(
      'ERR_SECRETARIAT_CREDENTIALS',
      `link ${ctx.link.id}: credentials need apiToken (and webhookSecret for webhooks)`,
      {
        details: { linkId: ctx.link.id },
        issues: parsed.error.issues.map((i) => ({
          path: `secrets.${i.path.map(String).join('.')}`,
          message: i.message,
        })),
      },
    );
  }
  const webhookSecrets = [parsed.data.webhookSecret, parsed.data.webhookSecretPrevious].filter(
    (s): s is string => s !== undefined,
  );
  for (const s of webhookSecrets) webhookKey(s); // validate before touching anything
  return { apiToken: parsed.data.apiToken, webhookSecrets };
}

const version = (v: string | null): number | null => {
  if (v === null) return null;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : null;
};

const record = (type: ResourceType, r: ResourceOfType[ResourceType]): ExternalRecord | null => {
  const data = toCanonical(type, r);
  if (data === null) return null;
  return {
    kind: data.resourceType,
    externalId: r.id,
    version: String(r.version),
    updatedAt: r.updatedAt,
    data,
  };
};

const seqOf = (entry: unknown): number | null => {
  const seq = (entry as { seq?: unknown } | null)?.seq;
  return typeof seq === 'number' && Number.isInteger(seq) ? seq : null;
};

/** How a feed entry that could not be read is stored: keyed by its position, so a re-pull is a duplicate. */
function feedEntryMessage(entry: unknown): Pick<InboundMessage, 'dedupe'> {
  const body = Buffer.from(JSON.stringify(entry) ?? 'null');
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const e = entry as { type?: unknown; op?: unknown } | null;
  const messageType =
    typeof e?.type === 'string' && typeof e.op === 'string'
      ? `feed:${e.type}.${e.op}`.slice(0, 80)
      : 'feed:unreadable';
  return { dedupe: { key: `feed:${seqOf(entry) ?? bodyHash.slice(0, 32)}`, bodyHash, messageType, body } };
}

export function createSecretariatConnector(
  config: SecretariatConfig,
  ctx: ConnectorContext,
  deps: SecretariatDeps = {},
): Connector {
  const { apiToken, webhookSecrets } = readSecrets(ctx);
  const log = ctx.log.child({ connector: 'secretariat' });
  const stopper = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopper.signal]);
  const clientOptions: SecretariatClientOptions = {
    baseUrl: config.baseUrl,
    practiceId: config.platformPracticeId,
    apiToken,
    timeoutMs: config.timeoutMs,
    retry: config.retry,
    log,
    now: ctx.now,
    signal,
    ...(deps.sleep && { sleep: deps.sleep }),
    ...(deps.random && { random: deps.random }),
  };
  const client = new SecretariatClient(clientOptions);
  // Health answers fast: one attempt, no retry.
  const probe = new SecretariatClient({ ...clientOptions, retry: { ...config.retry, maxAttempts: 1 } });

  /**
   * The appointment types to publish: the practice software's catalogue with its consignes
   * (its mapping profile, docs/mappings.md), and the link's own `appointmentTypes`, which win
   * for an id they both name. Published again when it changes (a new profile).
   */
  const wantedAppointmentTypes = async (): Promise<Map<string, AppointmentTypeInput>> => {
    const wanted = new Map<string, AppointmentTypeInput>();
    for (const entry of (await ctx.practiceCatalogue?.()) ?? []) {
      // A code the platform cannot take as an id stays out (the profile's own check names it).
      if (!PlatformId.safeParse(entry.code).success) continue;
      wanted.set(entry.code, {
        label: entry.display,
        durationMinutes: Math.min(480, Math.max(5, entry.minutes ?? 15)),
        instructions: entry.instructions ?? null,
        practitionerIds: [],
        active: true,
      });
    }
    for (const { id, ...input } of config.appointmentTypes) wanted.set(id, input);
    return wanted;
  };
  let typesPublished: { key: string; done: Promise<void> } | null = null;
  const ensureAppointmentTypes = async (): Promise<void> => {
    const wanted = await wantedAppointmentTypes();
    if (wanted.size === 0) return;
    const key = JSON.stringify([...wanted]);
    if (typesPublished?.key !== key) {
      const done = (async () => {
        const existing = new Map((await client.list('appointment-type')).map((t) => [t.id, t]));
        for (const [id, input] of wanted) {
          const current = existing.get(id);
          const {
            id: _i,
            version: _v,
            updatedAt: _u,
            ...held
          } = current ?? { id, version: 0, updatedAt: '' };
          if (current !== undefined && isDeepStrictEqual(held, input)) continue;
          await client.putAppointmentType(id, input, current?.version ?? null);
          log.info('appointment type published', { appointmentTypeId: id });
        }
      })();
      typesPublished = { key, done };
      done.catch(() => {
        if (typesPublished?.done === done) typesPublished = null;
      });
    }
    return typesPublished?.done;
  };

  /** Writes a resource the plain way: POST (create) or PUT with If-Match (update). */
  async function upsert<K extends ResourceType>(
    type: K,
    change: OutboundChange,
    body: unknown,
  ): Promise<ResourceOfType[K]> {
    if (change.externalId === null) return (await client.create(type, body, change.idempotencyKey)).data;
    const v = version(change.expectedVersion) ?? (await client.get(type, change.externalId)).data.version;
    return (await client.update(type, change.externalId, body, v, change.idempotencyKey)).data;
  }

  /**
   * Creates at the platform a booking the practice made (agents' bookings are made there). The
   * practice's slot reached the platform busy before it (the slot is the practice's, and filled),
   * and the platform books no busy slot: refused for that, the booking goes by practitioner and
   * time, the slot staying busy — the practice's agenda is the truth, a refusal would lose it.
   */
  async function createPracticeBooking(
    fields: AppointmentWrite['fields'],
    idempotencyKey: string,
  ): Promise<ResourceOfType['appointment']> {
    try {
      return (await client.create('appointment', fields, idempotencyKey)).data;
    } catch (e) {
      if (!(
        fields.slotId !== null &&
        isPasserelleError(e) &&
        e.details['problemCode'] === 'slot-unavailable'
      ))
        throw e;
      return (
        await client.create('appointment', { ...fields, slotId: null }, `${idempotencyKey}:without-slot`)
      ).data;
    }
  }

  async function cancelAppointment(
    change: OutboundChange,
    externalId: string,
    reason: string,
  ): Promise<ResourceOfType['appointment']> {
    try {
      return (
        await client.action(
          'appointment',
          externalId,
          'cancel',
          { reason },
          version(change.expectedVersion),
          change.idempotencyKey,
        )
      ).data;
    } catch (e) {
      // Already cancelled or refused there: the wanted state holds, nothing to write.
      if (isPasserelleError(e) && e.details['problemCode'] === 'appointment-closed') {
        const current = (await client.get('appointment', externalId)).data;
        if (current.status === 'cancelled' || current.status === 'refused') return current;
      }
      throw e;
    }
  }

  function unsupported(change: OutboundChange, why: string): PasserelleError {
    return new PasserelleError('ERR_SECRETARIAT_UNSUPPORTED', `${change.op} ${change.kind}: ${why}`, {
      details: { seq: change.seq, kind: change.kind, op: change.op },
    });
  }

  async function write(change: OutboundChange): Promise<ResourceOfType[ResourceType] | { deleted: string }> {
    const ext = change.externalId;
    const reasonText = change.reason?.message;
    switch (change.op) {
      case 'reject': {
        if (change.kind !== 'Appointment' || ext === null)
          throw unsupported(change, 'only a booking known to the platform can be refused');
        const reason = change.reason ?? { code: 'refused', message: 'Rendez-vous refusé par le cabinet.' };
        return (
          await client.action(
            'appointment',
            ext,
            'refuse',
            { code: reason.code, message: reason.message },
            version(change.expectedVersion),
            change.idempotencyKey,
          )
        ).data;
      }
      case 'cancel': {
        if (change.kind !== 'Appointment' || ext === null)
          throw unsupported(change, 'only an appointment known to the platform can be cancelled');
        const a = change.data as Appointment;
        return cancelAppointment(
          change,
          ext,
          reasonText ?? a.cancelationReason?.text ?? 'Annulé par le cabinet.',
        );
      }
      case 'delete': {
        if (change.kind !== 'Slot' || ext === null)
          throw unsupported(change, 'the platform deletes slots only (cancelling is a status)');
        const v = version(change.expectedVersion) ?? (await client.get('slot', ext)).data.version;
        await client.remove('slot', ext, v, change.idempotencyKey);
        return { deleted: ext };
      }
      case 'upsert':
        break;
      default:
        return change.op satisfies never;
    }
    switch (change.kind) {
      case 'Practitioner':
        return upsert('practitioner', change, practitionerFromCanonical(change.data as Practitioner));
      case 'Patient':
        return upsert('patient', change, patientFromCanonical(change.data as Patient));
      case 'Schedule':
        await ensureAppointmentTypes();
        return upsert('schedule', change, scheduleFromCanonical(change.data as Schedule));
      case 'Slot': {
        const slot = change.data as Slot;
        if (slotStatusFromCanonical(slot) === 'delete') return write({ ...change, op: 'delete' });
        return upsert('slot', change, slotFromCanonical(slot));
      }
      case 'Appointment': {
        const w = appointmentFromCanonical(change.data as Appointment);
        // A booking may name a type before any schedule or poll published the catalogue
        // (HL7 practice software sends its appointments first).
        if (w.fields.appointmentTypeId !== null) await ensureAppointmentTypes();
        if (ext === null) {
          const created = await createPracticeBooking(w.fields, change.idempotencyKey);
          if (w.status === 'booked') return created;
          // Created in another state (rare): apply it as a second, separately keyed write.
          return write({
            ...change,
            externalId: created.id,
            expectedVersion: String(created.version),
            idempotencyKey: `${change.idempotencyKey}:state`,
          });
        }
        if (w.status === 'cancelled')
          return cancelAppointment(change, ext, w.cancelReason ?? 'Annulé par le cabinet.');
        if (w.status === 'refused')
          return write({
            ...change,
            op: 'reject',
            reason: w.refusal ?? { code: 'refused', message: 'Rendez-vous refusé.' },
          });
        const { bookedBy: _agent, ...fields } = w.fields;
        const body = AppointmentUpdate.parse({ ...fields, status: w.status });
        return upsert('appointment', change, body);
      }
      case 'Communication': {
        // Practice → secretariat, messages travel as acknowledgements only (design table).
        if (ext === null)
          throw unsupported(
            change,
            'the platform takes call messages from agents only; passerelle acknowledges them',
          );
        const received = (change.data as Communication).received;
        if (received === undefined) return (await client.get('message', ext)).data;
        return (
          await client.action(
            'message',
            ext,
            'acknowledge',
            { acknowledgedAt: utc(received) },
            version(change.expectedVersion),
            change.idempotencyKey,
          )
        ).data;
      }
      case 'PractitionerRole':
        throw unsupported(
          change,
          'the platform has no practitioner roles (not a push kind of this connector)',
        );
      default:
        return change.kind satisfies never;
    }
  }

  return {
    async pull(cursor: string | null, limit: number): Promise<PullPage> {
      await ensureAppointmentTypes();
      const page = (await client.changeEntries(cursor, Math.max(1, Math.min(500, limit)))).data;
      const records: ExternalRecord[] = [];
      const invalid: (InboundMessage & { error: PasserelleError })[] = [];
      const setAside = (entry: unknown, e: unknown) => {
        if (!isPasserelleError(e)) throw e;
        // One change that breaks the contract is set aside (stored, dead-lettered, replayable
        // once the platform or the mapping is fixed); the rest of the feed keeps flowing.
        invalid.push({ ...feedEntryMessage(entry), records: [], error: e });
        log.warn('secretariat change set aside', { code: e.code, seq: seqOf(entry) });
      };
      const parsed: { entry: unknown; change: Change }[] = [];
      for (const entry of page.changes) {
        try {
          parsed.push({ entry, change: parseChange(entry, 'ERR_SECRETARIAT_BAD_RESPONSE') });
        } catch (e) {
          setAside(entry, e);
        }
      }
      // Only a resource's last change in the page is its state. An earlier one (typically an
      // agent's change already applied through its webhook, the feed being read again from the
      // last poll's cursor) handed over after passerelle wrote that resource since would be
      // taken for a change made after that write, and undo it. A last change of passerelle's
      // own (origin integration) is not news either: the resource holds what passerelle wrote.
      const last = new Map(parsed.map(({ change }, i) => [`${change.type}/${change.id}`, i]));
      parsed.forEach(({ entry, change }, i) => {
        if (last.get(`${change.type}/${change.id}`) !== i || !isNews(change)) return;
        try {
          const r = changeToRecord(change, 'ERR_SECRETARIAT_BAD_RESPONSE');
          if (r !== null) records.push(r);
        } catch (e) {
          setAside(entry, e);
        }
      });
      log.debug('secretariat changes pulled', {
        changes: page.changes.length,
        records: records.length,
        invalid: invalid.length,
        hasMore: page.hasMore,
      });
      return { records, ...(invalid.length > 0 && { invalid }), next: page.next, hasMore: page.hasMore };
    },

    async push(change: OutboundChange): Promise<PushResult> {
      try {
        const written = await write(change);
        if ('deleted' in written) return { ok: true, externalId: written.deleted };
        log.info('secretariat change written', {
          seq: change.seq,
          kind: change.kind,
          op: change.op,
          externalId: written.id,
          version: written.version,
        });
        return { ok: true, externalId: written.id, version: String(written.version) };
      } catch (e) {
        if (!isPasserelleError(e)) throw e;
        log.warn('secretariat change not written', {
          seq: change.seq,
          kind: change.kind,
          op: change.op,
          code: e.code,
          retryable: e.retryable,
        });
        const type = TYPE_OF_KIND[change.kind];
        if (
          e.code === 'ERR_SECRETARIAT_VERSION_CONFLICT' &&
          change.externalId !== null &&
          type !== undefined
        ) {
          // The platform moved on: hand the engine what it holds now, to merge again.
          try {
            const current = record(type, (await client.get(type, change.externalId)).data);
            if (current !== null) return { ok: false, error: e, current };
          } catch (inner) {
            if (!isPasserelleError(inner)) throw inner;
          }
        }
        return { ok: false, error: e };
      }
    },

    /** Maps a stored webhook body or feed entry again (replay of a dead letter, design rule 9). */
    async remap(stored): Promise<InboundMessage> {
      let change;
      try {
        const json: unknown = JSON.parse(stored.body.toString('utf8'));
        const webhook = WebhookPayload.safeParse(json);
        if (webhook.success && webhook.data.practiceId !== config.platformPracticeId) {
          throw new PasserelleError(
            'ERR_WEBHOOK_PAYLOAD',
            'the webhook is for another practice than this link follows',
          );
        }
        change = webhook.success ? webhook.data.data : parseChange(json, 'ERR_SECRETARIAT_BAD_RESPONSE');
        const r = changeToRecord(change, 'ERR_SECRETARIAT_BAD_RESPONSE');
        return { dedupe: null, records: r !== null && isNews(change) ? [r] : [] };
      } catch (e) {
        if (!isPasserelleError(e) && !(e instanceof SyntaxError)) throw e;
        const error = isPasserelleError(e)
          ? e
          : new PasserelleError('ERR_WEBHOOK_PAYLOAD', 'the stored message is not JSON', { cause: e });
        return { dedupe: null, records: [], error };
      }
    },

    receiveHttp(delivery, handler) {
      return receiveWebhook(delivery, handler, {
        secrets: webhookSecrets,
        now: ctx.now,
        practiceId: config.platformPracticeId,
        log,
      });
    },

    async health(): Promise<HealthReport> {
      const checks: { name: string; ok: boolean; detail?: string }[] = [];
      try {
        await probe.request({ method: 'GET', path: '', route: '/', schema: z.object({ id: z.string() }) });
        checks.push({ name: 'platform', ok: true });
      } catch (e) {
        checks.push({ name: 'platform', ok: false, detail: isPasserelleError(e) ? e.code : 'unreachable' });
      }
      checks.push(
        webhookSecrets.length > 0
          ? { name: 'webhook-secret', ok: true }
          : {
              name: 'webhook-secret',
              ok: false,
              detail: 'no webhook secret: webhooks are refused, polling only',
            },
      );
      return { ok: checks.every((c) => c.ok), checks };
    },

    async requestCallback(request: CallbackRequestInput): Promise<{ readonly id: string }> {
      // The platform knows two priorities; asap and stat are urgent there (mapping.ts).
      const res = await client.requestCallback(
        {
          reason: 'urgent-message-unacknowledged',
          messageId: request.externalId,
          priority: request.priority === 'routine' ? 'routine' : 'urgent',
          note: request.note,
          requestedAt: utc(request.requestedAt),
        },
        request.idempotencyKey,
      );
      return { id: res.data.id };
    },

    async publishConsignes(consignes): Promise<{ readonly publishedAt: string }> {
      const res = await client.publishConsignes(
        { version: consignes.version, document: consignes.document },
        `consignes-${ctx.link.practiceId}-v${consignes.version}`,
      );
      return { publishedAt: res.data.publishedAt };
    },

    async handReminders(items) {
      // Keyed on the batch's references: a retried POST is answered from the platform's memory.
      const key = `reminders-${createHash('sha256')
        .update(items.map((i) => i.reference).join(','))
        .digest('hex')
        .slice(0, 32)}`;
      const res = await client.handReminders(
        {
          items: items.map((i) => ({
            reference: i.reference,
            kind: i.kind,
            patientId: i.patientId,
            appointmentId: i.appointmentId,
            visitType: i.visitType,
            dueOn: i.dueOn,
            appointmentStart: i.appointmentStart === null ? null : utc(i.appointmentStart),
            note: i.note,
          })),
        },
        key,
      );
      return res.data.items.map((r) => ({ reference: r.reference, id: r.id }));
    },

    async reminderOutcomes(since) {
      const res = await client.reminderOutcomes(utc(since));
      return res.data.items
        .filter((r) => r.outcome !== null)
        .map((r) => ({
          reference: r.reference,
          outcome: r.outcome as NonNullable<typeof r.outcome>,
          optOut: r.optOut,
          at: r.outcomeAt ?? r.updatedAt,
        }));
    },

    async callStatistics(day: string) {
      return (await client.callStatistics(day)).data;
    },

    async publishSlots(p: SlotPublicationInput): Promise<AgendaPublishResult> {
      const body = {
        from: utc(p.from),
        to: utc(p.to),
        slots: p.slots.map((x) => ({
          start: utc(x.start),
          end: utc(x.end),
          status: x.status,
          // The rules' visit type codes are the platform's appointment-type ids when they fit its alphabet.
          appointmentTypeId: PlatformId.safeParse(x.visitType).success ? x.visitType : null,
        })),
      };
      try {
        const res = await client.publishSlots(
          p.practitionerExternalId,
          body,
          version(p.expectedVersion),
          p.idempotencyKey,
        );
        log.info('secretariat slots published', {
          practitionerId: p.practitionerExternalId,
          version: res.data.version,
          slots: res.data.slots,
          created: res.data.created,
          updated: res.data.updated,
          removed: res.data.removed,
        });
        return { ok: true, version: String(res.data.version) };
      } catch (e) {
        if (!isPasserelleError(e)) throw e;
        if (e.code !== 'ERR_SECRETARIAT_VERSION_CONFLICT') return { ok: false, error: e };
        const current = await client.publishedSlots(p.practitionerExternalId);
        return { ok: false, error: e, currentVersion: current === null ? null : String(current.version) };
      }
    },

    async publishCoverage(p: CoveragePublicationInput): Promise<AgendaPublishResult> {
      const body = {
        timeZone: p.timeZone,
        from: utc(p.from),
        to: utc(p.to),
        windows: p.windows.map((w) => ({ ...w, start: utc(w.start), end: utc(w.end) })),
      };
      try {
        const res = await client.publishCoverage(body, version(p.expectedVersion), p.idempotencyKey);
        log.info('secretariat coverage published', {
          version: res.data.version,
          windows: body.windows.length,
        });
        return { ok: true, version: String(res.data.version) };
      } catch (e) {
        if (!isPasserelleError(e)) throw e;
        if (e.code !== 'ERR_SECRETARIAT_VERSION_CONFLICT') return { ok: false, error: e };
        const current = await client.coverage();
        return { ok: false, error: e, currentVersion: current === null ? null : String(current.version) };
      }
    },

    async stop(): Promise<void> {
      stopper.abort(new PasserelleError('ERR_SECRETARIAT_HTTP', 'the link was stopped', { retryable: true }));
    },
  };
}

export default defineConnector<SecretariatConfig>({
  name: 'secretariat',
  // Its mapping is code (mapping.ts): the platform's API is one fixed contract (openapi.yaml).
  protocol: 'secretariat-api',
  docs: 'connectors/secretariat/README.md',
  simulator: secretariatSimulator,
  configSchema: SecretariatConfig,
  secretsSchema: SecretariatSecrets,
  outboundUrls: (config) => [{ path: 'baseUrl', url: config.baseUrl }],
  defaultPollSchedule: DEFAULT_POLL_SCHEDULE,
  holds: heldOnPlatform,
  view: platformView,
  // The platform counts each record's versions 1, 2, 3… (its ETags).
  compareVersions: (a, b) => (version(a) ?? 0) - (version(b) ?? 0),
  capabilities: {
    kinds: ['Practitioner', 'Schedule', 'Slot', 'Appointment', 'Patient', 'Communication'],
    pull: true,
    receive: true,
    push: ['Practitioner', 'Schedule', 'Slot', 'Appointment', 'Patient', 'Communication'],
  },
  create: (config, ctx) => createSecretariatConnector(config, ctx),
});
