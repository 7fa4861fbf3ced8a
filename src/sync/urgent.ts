/**
 * Urgent call messages are acknowledged or escalated (issue 21 point 2).
 *
 * A call message (Communication) whose priority is urgent, asap or stat — the same rule as the
 * dashboard (src/reports/dashboard.ts) — is tracked from the moment the store holds it and
 * waits for the practice's acknowledgement, which may come from:
 * - the practice software: `Communication.received` set (FHIR: the practice-owned field of
 *   mappings/fhir-r4-fr-core.yaml; the practice acknowledges by setting it);
 * - HL7 v2: the shipped profiles send call messages (ORU^R01, MDM^T02) but take none back, so
 *   nothing in them says "read"; a practice may choose (`acceptHl7Ack`) to count the accept
 *   ACK (MSA-1 AA/CA) of the message carrying it, which only proves the software took it;
 * - the API or console (`POST …/urgent-messages/:id/acknowledge`);
 * - the signed one-time link carried by the escalation notification (src/security/ack-link.ts).
 * Without it within the practice's delay, the plan runs: step 1 a signed webhook to the
 * practice's SMS/e-mail gateway, step 2 (after `callbackAfterMinutes`, or at once without a
 * gateway) a callback request to the secretariat platform. Each step and the acknowledgement
 * land in the message's timeline and the audit trail. All state is in the store
 * (0012_urgent_messages), so a restart carries on; one instance runs a pass at a time (store
 * lease `urgent-escalation`).
 */
import { createHash, randomBytes } from 'node:crypto';

import axios from 'axios';

import type { Connector } from '../connector/contract.js';
import { PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { signAckLink, verifyAckLink } from '../security/ack-link.js';
import type { SecretBox } from '../security/secrets.js';
import { signWebhook, WEBHOOK_HEADERS } from '../security/webhook-signature.js';
import type { Store } from '../store/index.js';
import type { AckVia, UrgentEvent, UrgentMessage } from '../store/repos/urgent-messages.js';
import type { JsonObject, Practice } from '../store/types.js';
import { type UrgentSettings, urgentSettingsOf } from './urgent-settings.js';

/** Communication priorities that are urgencies (as the dashboard counts them). */
export const URGENT_PRIORITIES: ReadonlySet<string> = new Set(['urgent', 'asap', 'stat']);
/** How far back new urgent messages are looked for at each pass. */
export const URGENT_SCAN_HOURS = 24;
/** Tries of the gateway webhook before the plan moves on to the secretariat anyway. */
export const GATEWAY_ATTEMPTS = 3;
/** Tries of the callback request before giving up (each recorded). */
export const CALLBACK_ATTEMPTS = 10;
/** Wait between two tries of a failed step. */
export const STEP_RETRY_MS = 60_000;
const LEASE = 'urgent-escalation';

export interface UrgentEscalationDeps {
  readonly store: Store;
  readonly secrets: SecretBox;
  readonly logger: Logger;
  /** The service's public base URL, for the acknowledgement link. */
  readonly publicUrl: () => string;
  /** The running connector of a link (SyncRuntime.connectorOf). */
  readonly connectorOf: (linkId: string) => Connector | undefined;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface UrgentView {
  readonly id: string;
  readonly priority: string;
  readonly takenAt: string;
  readonly dueAt: string;
  readonly state: UrgentMessage['state'];
  readonly step: number;
  readonly nextStepAt: string | null;
  readonly acknowledgedAt: string | null;
  readonly acknowledgedVia: AckVia | null;
  readonly acknowledgedBy: string | null;
  /** Seconds from taken to acknowledged; null while waiting. */
  readonly secondsToAcknowledge: number | null;
  /** The version of the practice's consignes in force when the message was taken (issue 21 point 1). */
  readonly consignesVersion: number | null;
}

/** What the API shows of a tracked message (never the link nonce). */
export function urgentView(m: UrgentMessage): UrgentView {
  return {
    id: m.communicationId,
    priority: m.priority,
    takenAt: m.takenAt,
    dueAt: m.dueAt,
    state: m.state,
    step: m.step,
    nextStepAt: m.nextAt,
    acknowledgedAt: m.acknowledgedAt,
    acknowledgedVia: m.ackVia,
    acknowledgedBy: m.ackBy,
    secondsToAcknowledge:
      m.acknowledgedAt === null
        ? null
        : Math.max(0, Math.round((Date.parse(m.acknowledgedAt) - Date.parse(m.takenAt)) / 1000)),
    consignesVersion: m.consignesVersion,
  };
}

export interface UrgentPassResult {
  readonly tracked: number;
  readonly acknowledged: number;
  readonly steps: number;
}

export interface UrgentStats {
  readonly urgent: number;
  readonly acknowledged: number;
  /** Messages for which at least step 1 ran. */
  readonly escalated: number;
  /** Messages for which the secretariat was asked to call back. */
  readonly callbacks: number;
  /** Seconds from taken to acknowledged (nearest rank); null when none was acknowledged. */
  readonly ackP50Seconds: number | null;
  readonly ackP95Seconds: number | null;
}

const nearestRank = (sorted: readonly number[], p: number): number | null =>
  sorted.length === 0 ? null : (sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1] as number);

/** The urgent-message figures of a practice over [since, until) (messages taken then). */
export async function urgentStats(
  store: Pick<Store, 'urgentMessages'>,
  practiceId: string,
  since: number,
  until: number,
): Promise<UrgentStats> {
  const rows = await store.urgentMessages.list({ practiceId, since, until, limit: 100_000 });
  const times = rows
    .map((m) => urgentView(m).secondsToAcknowledge)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b);
  return {
    urgent: rows.length,
    acknowledged: times.length,
    escalated: rows.filter((m) => m.step >= 1).length,
    callbacks: rows.filter((m) => m.step >= 2).length,
    ackP50Seconds: nearestRank(times, 50),
    ackP95Seconds: nearestRank(times, 95),
  };
}

/**
 * The ids, among `ids`, of urgent messages acknowledged through passerelle (API, link, HL7
 * accept): what the dashboard adds to `Communication.received` when it counts the
 * unacknowledged ones.
 */
export async function acknowledgedUrgentIds(
  store: Store,
  practiceId: string,
  since: number,
): Promise<Set<string>> {
  const rows = await store.urgentMessages.list({ practiceId, since, state: 'acknowledged', limit: 10_000 });
  return new Set(rows.map((m) => m.communicationId));
}

const notFound = (id: string) => new PasserelleError('ERR_NOT_FOUND', `urgent message ${id} not found`);

export class UrgentEscalation {
  constructor(private readonly deps: UrgentEscalationDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  /** One pass: track new urgent messages, take acknowledgements, run the steps due. */
  async runOnce(): Promise<UrgentPassResult> {
    const r = await this.store.withLease(LEASE, () => this.pass());
    return r.acquired ? r.result : { tracked: 0, acknowledged: 0, steps: 0 };
  }

  private async pass(): Promise<UrgentPassResult> {
    const result = { tracked: 0, acknowledged: 0, steps: 0 };
    const settings = new Map<string, UrgentSettings>();
    const settingsOf = async (practiceId: string): Promise<UrgentSettings> => {
      let s = settings.get(practiceId);
      if (!s) {
        const p = await this.store.practices.get(practiceId);
        s = p ? this.settingsOf(p) : urgentSettingsOf({}, this.deps.secrets, practiceId).settings;
        settings.set(practiceId, s);
      }
      return s;
    };
    for (const p of await this.store.practices.list()) {
      const s = this.settingsOf(p);
      settings.set(p.id, s);
      const scanned = await this.scan(p.id, s);
      result.tracked += scanned.tracked;
      result.acknowledged += scanned.acknowledged;
    }
    for (const m of await this.store.urgentMessages.due(this.store.now(), 200)) {
      if (this.deps.signal?.aborted) break;
      await this.step(m, await settingsOf(m.practiceId));
      result.steps++;
    }
    return result;
  }

  private settingsOf(p: Practice): UrgentSettings {
    const { settings, error } = urgentSettingsOf(p.settings, this.deps.secrets, p.id);
    if (error) this.deps.logger.warn('urgent settings unusable', { practiceId: p.id, code: error.code });
    return settings;
  }

  private async scan(
    practiceId: string,
    s: UrgentSettings,
  ): Promise<{ tracked: number; acknowledged: number }> {
    const { store } = this;
    const now = store.now();
    const since = new Date(now - URGENT_SCAN_HOURS * 3_600_000).toISOString();
    const messages = await store.resources.list({
      practiceId,
      kind: 'Communication',
      updatedSince: since,
      limit: 1000,
    });
    let tracked = 0;
    let acknowledged = 0;
    const hl7Links = s.acceptHl7Ack
      ? new Set(
          (await store.links.list({ practiceId }))
            .filter((l) => l.role === 'practice' && l.connector === 'hl7v2')
            .map((l) => l.id),
        )
      : new Set<string>();
    for (const m of messages) {
      const data = m.data as { priority?: string; received?: string; status?: string };
      if (!URGENT_PRIORITIES.has(data.priority ?? '') || data.status === 'entered-in-error') continue;
      if (m.createdAt < since) continue;
      let row = await store.urgentMessages.get(m.id);
      if (row?.state === 'acknowledged') continue;
      if (!row) {
        const takenAt = Date.parse(m.createdAt);
        const added = await store.urgentMessages.track({
          communicationId: m.id,
          practiceId,
          priority: data.priority as string,
          takenAt,
          dueAt: takenAt + s.delayMs,
          linkNonce: randomBytes(16).toString('base64url'),
          consignesVersion: await store.consignes.versionAt(practiceId, takenAt),
        });
        if (added) {
          tracked++;
          await store.urgentMessages.addEvent(m.id, practiceId, {
            kind: 'tracked',
            outcome: 'ok',
            details: {
              priority: data.priority as string,
              dueAt: new Date(takenAt + s.delayMs).toISOString(),
            },
          });
        }
        row = await store.urgentMessages.get(m.id);
        if (!row) continue;
      }
      let ack: { at: number; via: AckVia } | undefined;
      if (data.received !== undefined) ack = { at: Date.parse(data.received), via: 'practice-software' };
      else if (hl7Links.size > 0) {
        const done = (await store.outbox.list({ recordId: m.id, status: 'done', limit: 20 })).find(
          (o) => hl7Links.has(o.linkId) && o.doneAt !== null,
        );
        if (done?.doneAt) ack = { at: Date.parse(done.doneAt), via: 'hl7-accept-ack' };
      }
      if (ack && (await this.record(row, { ...ack, by: null }, { actor: 'system', via: 'scheduler' })))
        acknowledged++;
    }
    return { tracked, acknowledged };
  }

  /** Marks it acknowledged, with a timeline event and an audit event; false when it already was. */
  private async record(
    m: UrgentMessage,
    ack: { at: number; via: AckVia; by: string | null },
    who: { actor: string; role?: string | null; via: string; requestId?: string | null },
  ): Promise<boolean> {
    const at = Math.max(Date.parse(m.takenAt), Number.isNaN(ack.at) ? this.store.now() : ack.at);
    return this.store.transaction(async (tx) => {
      if (!(await tx.urgentMessages.acknowledge(m.communicationId, { at, via: ack.via, by: ack.by })))
        return false;
      await tx.urgentMessages.addEvent(m.communicationId, m.practiceId, {
        kind: 'acknowledged',
        outcome: 'ok',
        details: { via: ack.via, ...(ack.by !== null && { by: ack.by }), at: new Date(at).toISOString() },
      });
      await tx.audit.append({
        actor: who.actor,
        role: who.role ?? null,
        action: 'urgent.acknowledge',
        resourceType: 'Communication',
        resourceId: m.communicationId,
        practiceId: m.practiceId,
        outcome: 'success',
        requestId: who.requestId ?? null,
        via: who.via,
        details: { ackVia: ack.via, step: m.step },
      });
      return true;
    });
  }

  private async step(m: UrgentMessage, s: UrgentSettings): Promise<void> {
    if (m.step === 0) return this.notifyGateway(m, s);
    if (m.step === 1) return this.askCallback(m);
  }

  private async audit(m: UrgentMessage, action: string, ok: boolean, details: JsonObject): Promise<void> {
    await this.store.audit.append({
      actor: 'system',
      action,
      resourceType: 'Communication',
      resourceId: m.communicationId,
      practiceId: m.practiceId,
      outcome: ok ? 'success' : 'failure',
      via: 'scheduler',
      details,
    });
  }

  /** The one-time acknowledgement URL of a message. */
  ackUrl(m: UrgentMessage, s: UrgentSettings): string {
    const token = signAckLink(this.deps.secrets.keyring, {
      communicationId: m.communicationId,
      practiceId: m.practiceId,
      nonce: m.linkNonce,
      expiresAt: this.store.now() + s.linkValidityMs,
    });
    return `${this.deps.publicUrl().replace(/\/+$/, '')}/ack/urgent/${token}`;
  }

  private async notifyGateway(m: UrgentMessage, s: UrgentSettings): Promise<void> {
    const { store } = this;
    const now = store.now();
    const kind = 'gateway-webhook';
    if (!s.gateway) {
      await store.urgentMessages.addEvent(m.communicationId, m.practiceId, {
        kind,
        outcome: 'skipped',
        details: { reason: 'no gateway configured (settings.urgentAck.gateway)' },
      });
      await this.audit(m, 'urgent.escalate.gateway', true, { outcome: 'skipped' });
      await store.urgentMessages.advance(m.communicationId, 0, 1, now);
      return;
    }
    const minutes = Math.round((now - Date.parse(m.takenAt)) / 60_000);
    const ackUrl = this.ackUrl(m, s);
    // No patient data: the practice reads the message itself in its software or the console.
    const body = Buffer.from(
      JSON.stringify({
        type: 'urgent-message.unacknowledged',
        practiceId: m.practiceId,
        messageId: m.communicationId,
        priority: m.priority,
        takenAt: m.takenAt,
        dueAt: m.dueAt,
        ackUrl,
        text: `Message urgent du secrétariat non acquitté depuis ${minutes} min. Acquitter : ${ackUrl}`,
      }),
    );
    const id = `urgent_${createHash('sha256').update(`${m.communicationId}|gateway`).digest('hex').slice(0, 32)}`;
    const outcome = await postSigned(
      s.gateway,
      body,
      id,
      now,
      this.deps.timeoutMs ?? 10_000,
      this.deps.signal,
    );
    await store.urgentMessages.addEvent(m.communicationId, m.practiceId, {
      kind,
      outcome: outcome.ok ? 'ok' : 'failed',
      details: outcome.ok
        ? { httpStatus: outcome.status, attempt: m.attempts + 1 }
        : { code: outcome.error.code, message: outcome.error.message, attempt: m.attempts + 1 },
    });
    await this.audit(m, 'urgent.escalate.gateway', outcome.ok, {
      attempt: m.attempts + 1,
      ...(outcome.ok ? { httpStatus: outcome.status } : { code: outcome.error.code }),
    });
    if (outcome.ok || m.attempts + 1 >= GATEWAY_ATTEMPTS)
      await store.urgentMessages.advance(m.communicationId, 0, 1, now + s.callbackAfterMs);
    else await store.urgentMessages.retryLater(m.communicationId, 0, now + STEP_RETRY_MS);
  }

  private async askCallback(m: UrgentMessage): Promise<void> {
    const { store } = this;
    const now = store.now();
    const kind = 'secretariat-callback';
    const links = (await store.links.list({ practiceId: m.practiceId, enabled: true })).filter(
      (l) => l.role === 'secretariat',
    );
    const target = links
      .map((l) => ({ link: l, connector: this.deps.connectorOf(l.id) }))
      .find((x) => x.connector?.requestCallback !== undefined);
    if (!target) {
      await store.urgentMessages.addEvent(m.communicationId, m.practiceId, {
        kind,
        outcome: 'skipped',
        details: { reason: 'no running secretariat link takes callback requests' },
      });
      await this.audit(m, 'urgent.escalate.callback', false, { outcome: 'skipped' });
      await store.urgentMessages.advance(m.communicationId, 1, 2, null);
      return;
    }
    const externalId =
      (await store.identityMap.findExternal(target.link.id, 'Communication', m.communicationId))[0] ?? null;
    const minutes = Math.round((now - Date.parse(m.takenAt)) / 60_000);
    try {
      const res = await (target.connector as Required<Pick<Connector, 'requestCallback'>>).requestCallback({
        canonicalId: m.communicationId,
        externalId,
        priority: m.priority,
        note: `Message urgent non acquitté par le cabinet depuis ${minutes} min : merci d'appeler le cabinet.`,
        requestedAt: new Date(now).toISOString(),
        idempotencyKey: `urgent-callback-${m.communicationId}`,
      });
      await store.urgentMessages.addEvent(m.communicationId, m.practiceId, {
        kind,
        outcome: 'ok',
        details: { linkId: target.link.id, callbackRequestId: res.id, attempt: m.attempts + 1 },
      });
      await this.audit(m, 'urgent.escalate.callback', true, {
        linkId: target.link.id,
        callbackRequestId: res.id,
      });
      await store.urgentMessages.advance(m.communicationId, 1, 2, null);
    } catch (e) {
      const err =
        e instanceof PasserelleError
          ? e
          : new PasserelleError('ERR_URGENT_STEP_FAILED', 'the callback request failed', { cause: e });
      const last = m.attempts + 1 >= CALLBACK_ATTEMPTS;
      await store.urgentMessages.addEvent(m.communicationId, m.practiceId, {
        kind,
        outcome: 'failed',
        details: {
          linkId: target.link.id,
          code: err.code,
          attempt: m.attempts + 1,
          ...(last && { gaveUp: true }),
        },
      });
      await this.audit(m, 'urgent.escalate.callback', false, { linkId: target.link.id, code: err.code });
      if (last) await store.urgentMessages.advance(m.communicationId, 1, 2, null);
      else await store.urgentMessages.retryLater(m.communicationId, 1, now + STEP_RETRY_MS);
    }
  }

  /** Acknowledged from the API or console; idempotent (`already` when it was before). */
  async acknowledge(
    practiceId: string,
    communicationId: string,
    who: { actor: string; role?: string | null; requestId?: string | null },
  ): Promise<{ message: UrgentView; already: boolean }> {
    const m = await this.store.urgentMessages.get(communicationId);
    if (!m || m.practiceId !== practiceId) throw notFound(communicationId);
    const done = await this.record(
      m,
      { at: this.store.now(), via: 'api', by: who.actor },
      { ...who, via: 'api' },
    );
    return {
      message: urgentView((await this.store.urgentMessages.get(communicationId)) as UrgentMessage),
      already: !done,
    };
  }

  /**
   * Acknowledged through the one-time link: the signature, the expiry, the practice and the
   * unused nonce are checked (ERR_URGENT_LINK_INVALID otherwise, the refusal recorded).
   */
  async acknowledgeByLink(token: string): Promise<{ message: UrgentView; already: boolean }> {
    const { store } = this;
    const claims = verifyAckLink(this.deps.secrets.keyring, token, store.now());
    const m = await store.urgentMessages.get(claims.communicationId);
    if (!m || m.practiceId !== claims.practiceId)
      throw new PasserelleError('ERR_URGENT_LINK_INVALID', 'acknowledgement link refused: tampered', {
        details: { reason: 'tampered' },
      });
    if (!(await store.urgentMessages.spendLink(m.communicationId, claims.nonce, store.now()))) {
      await store.urgentMessages.addEvent(m.communicationId, m.practiceId, {
        kind: 'link-refused',
        outcome: 'refused',
        details: { reason: 'used' },
      });
      throw new PasserelleError('ERR_URGENT_LINK_INVALID', 'acknowledgement link refused: used', {
        details: { reason: 'used' },
      });
    }
    const done = await this.record(
      m,
      { at: store.now(), via: 'signed-link', by: null },
      { actor: 'ack-link', via: 'link' },
    );
    return {
      message: urgentView((await store.urgentMessages.get(m.communicationId)) as UrgentMessage),
      already: !done,
    };
  }

  async list(
    practiceId: string,
    filter: { since?: number; until?: number; state?: UrgentMessage['state'] } = {},
  ): Promise<UrgentView[]> {
    return (await this.store.urgentMessages.list({ practiceId, ...filter, limit: 1000 })).map(urgentView);
  }

  async timeline(
    practiceId: string,
    communicationId: string,
  ): Promise<{ message: UrgentView; events: UrgentEvent[] }> {
    const m = await this.store.urgentMessages.get(communicationId);
    if (!m || m.practiceId !== practiceId) throw notFound(communicationId);
    return { message: urgentView(m), events: await this.store.urgentMessages.events(communicationId) };
  }
}

type PostOutcome = { ok: true; status: number } | { ok: false; error: PasserelleError };

/** One signed POST (Standard Webhooks headers, as the digest webhook); never throws. */
async function postSigned(
  gateway: { readonly url: string; readonly secret?: string },
  body: Buffer,
  id: string,
  now: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<PostOutcome> {
  const timestamp = Math.floor(now / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'passerelle-urgent',
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
  };
  if (gateway.secret !== undefined)
    headers[WEBHOOK_HEADERS.signature] = signWebhook([gateway.secret], id, timestamp, body);
  try {
    const res = await axios.post(gateway.url, body, {
      headers,
      timeout: timeoutMs,
      maxRedirects: 0,
      responseType: 'text',
      transformRequest: [(data: unknown) => data],
      validateStatus: () => true,
      ...(signal && { signal }),
    });
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return {
      ok: false,
      error: new PasserelleError('ERR_URGENT_STEP_FAILED', `gateway webhook answered HTTP ${res.status}`, {
        details: { httpStatus: res.status },
      }),
    };
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'ERR_NETWORK';
    return {
      ok: false,
      error: new PasserelleError('ERR_URGENT_STEP_FAILED', `gateway webhook unreachable (${code})`, {
        details: { cause: code },
      }),
    };
  }
}
