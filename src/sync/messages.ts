/**
 * The message browser (issue 18): a link's inbound messages (the inbox: HL7, FHIR and
 * secretariat webhooks) and outbound writes (the outbox), and one message's whole path in one
 * call — its metadata, raw bytes (for those allowed), HL7 segment/field tree with paths, what
 * the link's current profile makes of it (a dry run: nothing written), what it left behind
 * (dead letters) and the answer sent. Read straight from the store, so the API and the CLI
 * (which has no running connectors) show the same thing.
 */
import type { ExternalRecord } from '../connector/contract.js';
import { isPasserelleError, PasserelleError } from '../errors.js';
import { MllpDecoder } from '../hl7/framing.js';
import { type Hl7Message, parseHl7 } from '../hl7/index.js';
import type { MappingPlan } from '../mapping/compile/plan.js';
import { dryRun, type DryRunResult } from '../mapping/dry-run.js';
import { type ConnectorProfiles, getActivePlan } from '../mapping/runtime.js';
import type { Store } from '../store/index.js';
import type { InboxEntry, OutboxItem, OutboxStatus } from '../store/types.js';

export const MESSAGE_OUTCOMES = [
  'pending',
  'applied',
  'applied-with-warnings',
  'rejected',
  'dead-letter',
] as const;
export type MessageOutcome = (typeof MESSAGE_OUTCOMES)[number];
export type MessageDirection = 'inbound' | 'outbound';

/** `in-<inbox id>` or `out-<outbox seq>`: one id space for both tables. */
export function parseMessageId(
  id: string,
): { readonly source: 'inbox' | 'outbox'; readonly n: number } | undefined {
  const m = /^(in|out)-([1-9][0-9]{0,14})$/.exec(id);
  if (!m) return undefined;
  return { source: m[1] === 'in' ? 'inbox' : 'outbox', n: Number(m[2]) };
}

/** The practice of a message's link (the API's `message` scope resolver); undefined when unknown. */
export async function messagePractice(store: Store, id: string): Promise<string | undefined> {
  const ref = parseMessageId(id);
  if (!ref) return undefined;
  if (ref.source === 'outbox') return (await store.outbox.get(ref.n))?.practiceId;
  const entry = await store.inbox.get(ref.n);
  return entry ? (await store.links.get(entry.linkId))?.practiceId : undefined;
}

export interface MessageSummary {
  readonly id: string;
  readonly direction: MessageDirection;
  readonly linkId: string;
  /** HL7 `SIU^S12`, a FHIR resource type, a webhook event; outbound: the canonical kind and op. */
  readonly messageType: string;
  /** HL7 MSH-10 (the last part of the dedupe key), a webhook's key; outbound: the idempotency key. */
  readonly controlId: string;
  readonly outcome: MessageOutcome;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly flags: readonly string[];
  readonly at: string;
  readonly processedAt: string | null;
}

function inboxOutcome(e: InboxEntry): MessageOutcome {
  switch (e.status) {
    case 'received':
      return 'pending';
    case 'processed':
      return e.flags.length > 0 ? 'applied-with-warnings' : 'applied';
    case 'rejected':
      return 'rejected';
    case 'failed':
      return 'dead-letter';
  }
}

const OUTBOX_OUTCOME: Record<OutboxStatus, MessageOutcome> = {
  pending: 'pending',
  leased: 'pending',
  done: 'applied',
  dead: 'dead-letter',
};

function inboxSummary(e: InboxEntry): MessageSummary {
  return {
    id: `in-${e.id}`,
    direction: 'inbound',
    linkId: e.linkId,
    messageType: e.messageType,
    controlId: e.dedupeKey.slice(e.dedupeKey.lastIndexOf('|') + 1),
    outcome: inboxOutcome(e),
    errorCode: e.errorCode,
    error: e.error,
    flags: e.flags,
    at: e.receivedAt,
    processedAt: e.processedAt,
  };
}

function outboxSummary(o: OutboxItem): MessageSummary {
  return {
    id: `out-${o.seq}`,
    direction: 'outbound',
    linkId: o.linkId,
    messageType: `${o.kind} ${o.op}`,
    controlId: o.idempotencyKey,
    outcome: OUTBOX_OUTCOME[o.status],
    errorCode: o.lastErrorCode,
    error: o.lastError,
    flags: [],
    at: o.createdAt,
    processedAt: o.doneAt,
  };
}

export interface MessageListFilter {
  readonly direction?: MessageDirection | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  /** Inbound: `SIU^S12`, or `SIU^` for every trigger; outbound: a canonical kind (`Appointment`). */
  readonly type?: string | undefined;
  readonly outcome?: MessageOutcome | undefined;
  readonly controlId?: string | undefined;
  /** A canonical Patient id: messages naming one of its ids on the link (read from the bodies). */
  readonly patient?: string | undefined;
  /** Paging: the `next` of the previous page. */
  readonly before?: string | undefined;
  readonly limit?: number | undefined;
}

function epoch(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new PasserelleError('ERR_VALIDATION', `${what}: not an ISO-8601 date-time`, {
      issues: [{ path: what, message: 'not an ISO-8601 date-time' }],
    });
  return t;
}

/** One page of a link's messages, newest first; `next` continues it. */
export async function listMessages(
  store: Store,
  linkId: string,
  f: MessageListFilter = {},
): Promise<{ items: MessageSummary[]; next: string | null }> {
  await store.links.require(linkId);
  const limit = f.limit ?? 50;
  const since = epoch(f.since, 'since');
  const until = epoch(f.until, 'until');
  const before = f.before === undefined ? undefined : parseMessageId(f.before);
  if (f.before !== undefined && !before)
    throw new PasserelleError('ERR_VALIDATION', 'before: not a message id', {
      issues: [{ path: 'before', message: 'not a message id (in-<n> or out-<n>)' }],
    });
  // Bodies are sealed: a patient filter reads the link's newest messages (at most PATIENT_SCAN
  // of them from `before`) and keeps those that name one of the patient's ids on the link.
  const matches = f.patient === undefined ? undefined : await patientMatcher(store, linkId, f.patient);
  const batch = matches ? 200 : limit;
  if ((f.direction ?? 'inbound') === 'inbound') {
    return scanPages({
      prefix: 'in',
      limit,
      batch,
      from: before?.n,
      fetch: (cursor) =>
        store.inbox.browse({
          linkId,
          limit: batch,
          ...(since !== undefined && { since }),
          ...(until !== undefined && { until }),
          ...(f.type !== undefined && { messageType: f.type }),
          ...(f.outcome !== undefined && { outcome: f.outcome }),
          ...(f.controlId !== undefined && { controlId: f.controlId }),
          ...(cursor !== undefined && { beforeId: cursor }),
        }),
      key: (row) => row.id,
      keep: (row) => !matches || matches.inbound(row.body),
      summary: inboxSummary,
    });
  }
  if (f.outcome === 'rejected' || f.outcome === 'applied-with-warnings' || f.controlId !== undefined)
    return { items: [], next: null };
  const statuses =
    f.outcome === undefined
      ? undefined
      : (Object.keys(OUTBOX_OUTCOME) as OutboxStatus[]).filter((s) => OUTBOX_OUTCOME[s] === f.outcome);
  return scanPages({
    prefix: 'out',
    limit,
    batch,
    from: before?.n,
    fetch: (cursor) =>
      store.outbox.browse({
        linkId,
        limit: batch,
        ...(since !== undefined && { since }),
        ...(until !== undefined && { until }),
        ...(f.type !== undefined && { kind: f.type }),
        ...(statuses && { statuses }),
        ...(cursor !== undefined && { beforeSeq: cursor }),
      }),
    key: (row) => row.seq,
    keep: (row) => !matches || matches.outbound(row),
    summary: outboxSummary,
  });
}

/**
 * Reads newest-first pages of `batch` rows from `from` on, keeping the rows `keep` accepts, until
 * `limit` are kept, the rows run out, or PATIENT_SCAN rows were read (a filter that reads bodies
 * stops there and hands back `next`, so one request stays bounded).
 */
async function scanPages<R>(o: {
  readonly prefix: 'in' | 'out';
  readonly limit: number;
  readonly batch: number;
  readonly from: number | undefined;
  fetch(cursor: number | undefined): Promise<readonly R[]>;
  key(row: R): number;
  keep(row: R): boolean;
  summary(row: R): MessageSummary;
}): Promise<{ items: MessageSummary[]; next: string | null }> {
  const items: MessageSummary[] = [];
  let cursor = o.from;
  for (let scanned = 0; ;) {
    const rows = await o.fetch(cursor);
    for (const row of rows) {
      scanned++;
      cursor = o.key(row);
      if (o.keep(row)) items.push(o.summary(row));
      if (items.length === o.limit) return { items, next: `${o.prefix}-${cursor}` };
    }
    if (rows.length < o.batch) return { items, next: null };
    if (scanned >= PATIENT_SCAN) return { items, next: `${o.prefix}-${cursor as number}` };
  }
}

/** How many messages one page with a patient filter reads at most before handing back `next`. */
const PATIENT_SCAN = 2000;

/**
 * Whether a message concerns a patient (canonical id): an HL7 message naming one of the
 * patient's ids on the link in PID-3 or MRG-1, another body (JSON) holding one as a string; an
 * outbound write of the patient or referring to it.
 */
async function patientMatcher(
  store: Store,
  linkId: string,
  patientId: string,
): Promise<{ inbound(body: Buffer | null): boolean; outbound(o: OutboxItem): boolean }> {
  const external = new Set(await store.identityMap.findExternal(linkId, 'Patient', patientId));
  return {
    inbound(body) {
      if (!body || external.size === 0) return false;
      const msg = tryParse(body);
      if (msg)
        return [...msg.getAll('PID-3[*].1'), ...msg.getAll('MRG-1[*].1')].some((id) => external.has(id));
      const text = body.toString('utf8');
      return [...external].some((id) => text.includes(JSON.stringify(id)));
    },
    outbound(o) {
      return o.recordId === patientId || JSON.stringify(o.payload).includes(`Patient/${patientId}"`);
    },
  };
}

export interface Hl7TreeComponent {
  readonly path: string;
  readonly value: string;
}
export interface Hl7TreeField {
  readonly path: string;
  /** The field as written (escapes intact), for a glance. */
  readonly encoded: string;
  /** Each repetition's components, a component with sub-components as one entry per sub-component (values unescaped, empty ones left out). */
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

/** The segment/field tree of a parsed message, every node with the HL7 path a profile uses. */
export function hl7Tree(msg: Hl7Message): Hl7TreeSegment[] {
  const d = msg.delimiters;
  const lines = msg.text.split(/\r\n|\r|\n/).filter((l) => l.length > 0);
  return msg.segments().map((seg) => {
    const at = seg.occurrence === 1 ? seg.name : `${seg.name}[${seg.occurrence}]`;
    // Only the number of fields is counted here; every value is read through the codec by path.
    const count = (lines[seg.position - 1] ?? '').split(d.field).length - 1 + (seg.name === 'MSH' ? 1 : 0);
    const fields: Hl7TreeField[] = [];
    for (let n = 1; n <= count; n++) {
      const path = `${at}-${n}`;
      const encoded = msg.getEncoded(path);
      if (encoded === undefined) continue;
      const special = seg.name === 'MSH' && n <= 2;
      const reps = special ? 1 : encoded.split(d.repetition).length;
      const repetitions = [];
      for (let r = 1; r <= reps; r++) {
        const rep = special ? encoded : (msg.getEncoded(`${path}[${r}]`) ?? '');
        const comps = special ? 1 : rep.split(d.component).length;
        const components: Hl7TreeComponent[] = [];
        for (let c = 1; c <= comps; c++) {
          const cpath = special ? path : `${path}[${r}].${c}`;
          const subs = special ? 1 : (msg.getEncoded(cpath) ?? '').split(d.subcomponent).length;
          // A component with sub-components (PID-3.4 `CABINET&1.2.250…&ISO`) lists each one.
          for (let k = 1; k <= subs; k++) {
            const spath = subs === 1 ? cpath : `${cpath}.${k}`;
            const value = special ? encoded : msg.get(spath);
            if (value !== undefined) components.push({ path: spath, value });
          }
        }
        repetitions.push({ path: special ? path : `${path}[${r}]`, components });
      }
      fields.push({ path, encoded, repetitions });
    }
    return { name: seg.name, occurrence: seg.occurrence, path: at, fields };
  });
}

export interface MessageMapping {
  readonly profile: {
    readonly name: string;
    readonly hash: string;
    readonly source: 'custom' | 'shipped' | 'request';
    readonly version: number | null;
  };
  readonly result: DryRunResult | null;
  /** Why there is no result (no profile on the link, a body purged by retention, unreadable bytes). */
  readonly unavailable?: { readonly code: string; readonly message: string };
}

export interface MessageDetail {
  readonly message: MessageSummary & { readonly practiceId: string };
  /** HL7 MSH fields that say who sent it and which answers it asked for (no patient data). */
  readonly header: Readonly<Record<string, string | undefined>> | null;
  /** Present only for callers allowed the raw bytes (integrator and up); that read is audited. */
  readonly raw?: { readonly text: string | null; readonly base64: string } | null;
  /** Whether the raw body is still kept (retention purges bodies; the rest stays). */
  readonly bodyKept: boolean;
  readonly tree: readonly Hl7TreeSegment[] | null;
  readonly mapping: MessageMapping | null;
  /** What the message left in the store: its dead letters; outbound, the canonical record written. */
  readonly written: {
    readonly deadLetters: readonly {
      id: string;
      status: string;
      reasonCode: string;
      reason: string;
      createdAt: string;
    }[];
    /**
     * Inbound: the canonical records the message's ids point to now (kind, its id on the link,
     * canonical id, version, last change) — the records it wrote, or those it would have.
     */
    readonly records?: readonly {
      kind: string;
      externalId: string;
      canonicalId: string | null;
      version: number | null;
      updatedAt: string | null;
    }[];
    readonly record?: {
      readonly kind: string;
      readonly id: string;
      readonly op: string;
      readonly attempts: number;
      readonly result: unknown;
    };
  };
  /** The answer sent back: HL7 ACKs (MSA-1 as `code`), or a webhook's HTTP body. */
  readonly ack: {
    readonly messages: readonly { readonly text: string; readonly code: string | undefined }[];
    readonly sentAt: string | null;
  } | null;
  /** HL7 enhanced mode: what the sender asked for and what it got (docs/mappings.md). */
  readonly applicationAck: { readonly requested: string; readonly note: string } | null;
}

export interface DetailOptions {
  /** Include the raw body (the caller checked the role and audits the read). */
  readonly raw: boolean;
  /** A draft profile to map with instead of the link's running one (dry run: nothing written). */
  readonly plan?: MappingPlan;
  /** The connectors that take a profile (the registry's profiles()), for the link's running one. */
  readonly profiles: ConnectorProfiles;
}

function tryParse(body: Buffer): Hl7Message | undefined {
  const head = body
    .subarray(0, 8)
    .toString('latin1')
    .replace(/^\xEF\xBB\xBF/, '')
    .trimStart();
  if (!head.startsWith('MSH')) return undefined;
  try {
    return parseHl7(body);
  } catch {
    return undefined;
  }
}

/** Runs the link's current profile (or `plan`) on stored bytes, without writing anything. */
export async function mapStored(
  store: Store,
  linkId: string,
  body: Buffer | null,
  profiles: ConnectorProfiles,
  plan?: MappingPlan,
): Promise<MessageMapping | null> {
  // A link whose connector takes no profile (the secretariat's webhooks) has no active plan.
  const active = await getActivePlan(store, linkId, profiles).catch((e: unknown) => {
    if (isPasserelleError(e)) return undefined;
    throw e;
  });
  const use = plan ?? active?.plan;
  if (!use) return null;
  const profile = {
    name: use.name,
    hash: use.hash,
    source: plan ? ('request' as const) : (active?.source ?? 'shipped'),
    version: plan ? null : (active?.version ?? null),
  };
  if (body === null)
    return {
      profile,
      result: null,
      unavailable: { code: 'ERR_NOT_FOUND', message: 'the body was purged by retention: nothing to map' },
    };
  try {
    return { profile, result: dryRun(use, body, { ...(active && { ctx: active.context }) }) };
  } catch (e) {
    const err =
      e instanceof PasserelleError
        ? e
        : new PasserelleError('ERR_INTERNAL', 'the stored message could not be mapped', { cause: e });
    return { profile, result: null, unavailable: { code: err.code, message: err.message } };
  }
}

function ackOf(response: Buffer | null, sentAt: string | null): MessageDetail['ack'] {
  if (!response) return null;
  // An HL7 answer is stored as sent: one MLLP block, or two (accept ACK then application ACK).
  const blocks = new MllpDecoder({ maxMessageBytes: response.length + 1 })
    .push(response)
    .flatMap((e) => (e.type === 'message' ? [e.payload] : []));
  const messages = (blocks.length > 0 ? blocks : [response]).map((b) => {
    const msg = tryParse(b);
    return { text: msg ? msg.text : b.toString('utf8'), code: msg?.get('MSA-1') };
  });
  return { messages, sentAt };
}

function applicationAckOf(
  header: Hl7Message['header'],
  outcome: MessageOutcome,
): MessageDetail['applicationAck'] {
  const accept = header.acceptAckType ?? '';
  const application = header.applicationAckType ?? '';
  if (accept === '' && application === '') return null; // original mode: the one ACK is the application ACK
  if (application === '' || application === 'NE') {
    return {
      requested: application || 'NE',
      note:
        outcome === 'dead-letter' || outcome === 'rejected'
          ? 'the sender asked for no application acknowledgment: it got the accept ACK only and does not know the message failed; the failure raised an alert and counts in the daily digest'
          : 'the sender asked for no application acknowledgment',
    };
  }
  // MSH-16 AL/ER/SU: the answer depends on the outcome, so the message was applied before
  // answering and the application ACK went out on the same connection (connectors/hl7v2/ack-policy.ts).
  return {
    requested: application,
    note: 'applied before answering: the application acknowledgment, if its condition held, was sent right after the accept ACK on the same connection',
  };
}

/** One message's whole path. Throws ERR_NOT_FOUND for an unknown id. */
export async function messageDetail(
  store: Store,
  id: string,
  options: DetailOptions,
): Promise<MessageDetail> {
  const ref = parseMessageId(id);
  const notFound = () => new PasserelleError('ERR_NOT_FOUND', `message ${id} not found`);
  if (!ref) throw notFound();
  if (ref.source === 'outbox') {
    const o = await store.outbox.get(ref.n);
    if (!o) throw notFound();
    const dead = await store.deadLetters.list({
      linkId: o.linkId,
      source: 'outbox',
      recordId: o.recordId,
      limit: 100,
    });
    const payload = Buffer.from(JSON.stringify(o.payload), 'utf8');
    return {
      message: { ...outboxSummary(o), practiceId: o.practiceId },
      header: null,
      ...(options.raw && { raw: { text: payload.toString('utf8'), base64: payload.toString('base64') } }),
      bodyKept: true,
      tree: null,
      mapping: null,
      written: {
        deadLetters: dead
          .filter((d) => d.ref === String(o.seq))
          .map((d) => ({
            id: d.id,
            status: d.status,
            reasonCode: d.reasonCode,
            reason: d.reason,
            createdAt: d.createdAt,
          })),
        record: { kind: o.kind, id: o.recordId, op: o.op, attempts: o.attempts, result: o.result },
      },
      ack: null,
      applicationAck: null,
    };
  }
  const e = await store.inbox.get(ref.n);
  if (!e) throw notFound();
  const link = await store.links.require(e.linkId);
  const msg = e.body ? tryParse(e.body) : undefined;
  const summary = inboxSummary(e);
  const h = msg?.header;
  const dead = await store.deadLetters.list({ linkId: e.linkId, source: 'inbox', limit: 1000 });
  const mapping = await mapStored(store, e.linkId, e.body, options.profiles, options.plan);
  return {
    message: { ...summary, practiceId: link.practiceId },
    header: h
      ? {
          messageType: h.messageType,
          controlId: h.controlId,
          version: h.version,
          timestamp: h.timestamp,
          processingId: h.processingId,
          acceptAckType: h.acceptAckType,
          applicationAckType: h.applicationAckType,
          charset: h.charset,
          sendingApplication: h.sendingApplication.namespaceId,
          sendingFacility: h.sendingFacility.namespaceId,
        }
      : null,
    ...(options.raw && {
      raw: e.body
        ? { text: msg ? msg.text : e.body.toString('utf8'), base64: e.body.toString('base64') }
        : null,
    }),
    bodyKept: e.body !== null,
    tree: msg ? hl7Tree(msg) : null,
    mapping,
    written: {
      records: await recordsOf(store, e.linkId, mapping?.result?.records ?? []),
      deadLetters: dead
        .filter((d) => d.ref === String(e.id))
        .map((d) => ({
          id: d.id,
          status: d.status,
          reasonCode: d.reasonCode,
          reason: d.reason,
          createdAt: d.createdAt,
        })),
    },
    ack: ackOf(e.response, e.processedAt ?? e.receivedAt),
    applicationAck: h ? applicationAckOf(h, summary.outcome) : null,
  };
}

/** Where the records a message maps to stand in the store now (ids and versions only). */
async function recordsOf(
  store: Store,
  linkId: string,
  records: readonly ExternalRecord[],
): Promise<NonNullable<MessageDetail['written']['records']>> {
  const out = [];
  for (const r of records) {
    const canonicalId = (await store.identityMap.findCanonical(linkId, r.kind, r.externalId)) ?? null;
    const stored = canonicalId === null ? undefined : await store.resources.get(canonicalId);
    out.push({
      kind: r.kind,
      externalId: r.externalId,
      canonicalId,
      version: stored?.version ?? null,
      updatedAt: stored?.updatedAt ?? null,
    });
  }
  return out;
}
