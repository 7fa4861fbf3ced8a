/**
 * The contract between the sync engine and a connector (one folder under connectors/ each:
 * secretariat, fhir, hl7v2). A connector speaks one protocol and translates, through its
 * mapping profile, between its peer's data and the canonical model; the engine decides what
 * changed, who wins, and what to send where.
 *
 * References inside `ExternalRecord.data` and `OutboundChange.data` use the connector's own
 * ids (`Patient/<externalId>`); the engine translates them to and from canonical ids with the
 * identity map.
 */
import type { z } from 'zod';

import type { PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { MappingPlan } from '../mapping/compile/plan.js';
import type { AppointmentTypeEntry } from '../mapping/compile/schema.js';
import type { MappingContext } from '../mapping/run/types.js';
import type { ExternalRecord, OutboundOp } from '../model/records.js';
import type { CanonicalResource, ResourceKind } from '../model/resources.js';
import type { RefusalWatch } from '../security/refusals.js';
import type { Clock } from '../store/repos/context.js';
import type { CallKpis, JsonObject, Link } from '../store/types.js';
export type { ExternalRecord, OutboundOp } from '../model/records.js';
import type { OutboundUrl } from '../security/outbound-urls.js';

/** What a receiving connector hands the engine for one received message or notification. */
export interface InboundMessage {
  /**
   * Dedupe key stored in the same transaction as the effects (design rule 2): HL7
   * `MSH-3|MSH-4|MSH-10` + body hash, webhook delivery id + body hash. Null for pulled pages.
   */
  readonly dedupe: {
    readonly key: string;
    readonly bodyHash: string;
    readonly messageType: string;
    readonly body: Buffer | null;
  } | null;
  readonly records: readonly ExternalRecord[];
  /** Set when the connector could not parse or map the message: stored, dead-lettered, answered. */
  readonly error?: PasserelleError;
  /**
   * When set, a message whose dedupe key was already used with another body (HL7 software that
   * reuses control ids) is stored, answered with this error as `rejected`, dead-lettered (an
   * operator may replay it) and not applied. Unset: it is applied and flagged `reused-dedupe-key`.
   */
  readonly refuseReusedKey?: PasserelleError;
  /**
   * Builds the exact bytes answered to the peer (an HL7 ACK…) from the outcome. Called inside
   * the transaction; the result is stored with the message so a resend gets it back byte for byte.
   */
  respond?(outcome: IngestOutcome): Buffer;
}

export type IngestOutcome =
  | { readonly status: 'applied'; readonly flags: readonly string[] }
  /** Refused for a business reason (a booking into a blocked slot); nothing applied. */
  | { readonly status: 'rejected'; readonly error: PasserelleError; readonly flags: readonly string[] }
  /** Invalid input (parse, mapping, validation); dead-lettered; nothing applied. */
  | { readonly status: 'invalid'; readonly error: PasserelleError; readonly flags: readonly string[] };

export interface IngestResult {
  /** `duplicate`: a resend of a committed message; `response` is what was answered the first time. */
  readonly outcome: IngestOutcome['status'] | 'duplicate';
  readonly response: Buffer | null;
  readonly flags: readonly string[];
}

/** Resolves after the engine has committed (durably); only then may the connector acknowledge. */
export type InboundHandler = (message: InboundMessage) => Promise<IngestResult>;

/** What `DeferredIngest.store` committed: `stored` (to be applied right after), or a resend's first answer. */
export interface StoreResult {
  readonly outcome: 'stored' | 'duplicate';
  readonly response: Buffer | null;
  readonly flags: readonly string[];
}

/** A message committed to the inbox and not applied yet. */
export interface StoredMessage {
  readonly id: number;
  readonly messageType: string;
  readonly body: Buffer | null;
}

/**
 * Commit now, apply right after: for protocols whose acknowledgment can mean "committed to
 * safe storage" apart from "processed" (HL7 v2.5.1 §2.9.3, the accept ACK of enhanced mode).
 * Same guarantees as the handler: nothing acknowledged is lost (the message and its dedupe key
 * commit before the answer), nothing is applied twice (a stored message is applied in the
 * transaction that marks it applied), failures are dead-lettered; the link's stored messages
 * are applied in the order they arrived, one drainer at a time across instances.
 */
export interface DeferredIngest {
  /**
   * Commits the message and its dedupe key with the answer `respond({ status: 'applied' })`
   * gives (which must not depend on the application outcome), applies nothing; `stored`, or
   * `duplicate` for a resend. Resolves after the commit.
   */
  store(message: InboundMessage): Promise<StoreResult>;
  /** The oldest stored messages not applied yet. */
  pending(limit: number): Promise<readonly StoredMessage[]>;
  /** Applies stored messages (mapped again by the connector), in one transaction, in order. */
  apply(
    items: readonly { readonly id: number; readonly message: InboundMessage }[],
  ): Promise<readonly IngestResult[]>;
  /** Runs `fn` under the link's drain lease (PostgreSQL: across instances). */
  exclusive<T>(fn: () => Promise<T>): Promise<{ readonly acquired: boolean; readonly result?: T }>;
}

export interface PullPage {
  readonly records: readonly ExternalRecord[];
  /**
   * Entries of the page the connector could not read or map (a change that breaks the peer's
   * contract), each as a message with its `error` and a dedupe key such as `feed:<seq>`: the
   * engine stores and dead-letters each one (replayable through `remap`), applies the records,
   * and advances the cursor — one bad change does not stop the link's polling.
   */
  readonly invalid?: readonly (InboundMessage & { readonly error: PasserelleError })[];
  /** Opaque cursor to resume after this page; stored in the same transaction as the page. */
  readonly next: string | null;
  readonly hasMore: boolean;
  /**
   * The pull from `next` reads nothing this page's apply writes (an initial load's pages): the
   * engine may start it while this page's transaction commits, so the peer serves the next page
   * during the commit. Absent: the next pull starts after the commit.
   */
  readonly ahead?: boolean;
}

/** One change the dispatcher asks a connector to write to its peer. */
export interface OutboundChange {
  readonly seq: number;
  readonly op: OutboundOp;
  readonly kind: ResourceKind;
  readonly canonicalId: string;
  /** The record's id on this peer if known (identity map); null → create. */
  readonly externalId: string | null;
  /** The peer's version last seen (for If-Match); null when unknown. */
  readonly expectedVersion: string | null;
  /** Canonical data with references rewritten to this peer's ids where known. */
  readonly data: CanonicalResource;
  /** What this peer held at the last sync (merge base), or null. */
  readonly base: CanonicalResource | null;
  /** Stable per change: the peer must apply a retried change once. */
  readonly idempotencyKey: string;
  readonly priority: number;
  /** For `reject`: why the booking was refused, for the secretariat's agent. */
  readonly reason?: { readonly code: string; readonly message: string };
  /**
   * Records `data` refers to that the connector writes with it (its capabilities' `related`
   * kinds: an HL7 appointment message carries its patient in PID). Current canonical state with
   * references in this peer's ids; each is known on this peer (the dispatcher sends a record a
   * change refers to first).
   */
  readonly related?: readonly RelatedChangeRecord[];
}

/** A record an outbound change refers to, as the peer knows it. */
export interface RelatedChangeRecord {
  readonly kind: ResourceKind;
  readonly canonicalId: string;
  /** Its id on this peer. */
  readonly externalId: string;
  /** Canonical data, references in this peer's ids, `id` = `externalId`. */
  readonly data: CanonicalResource;
}

export type PushResult =
  | { readonly ok: true; readonly externalId: string; readonly version?: string }
  | {
      readonly ok: false;
      /** `error.retryable` drives the outbox: retry with backoff, or dead letter at once. */
      readonly error: PasserelleError;
      /** On a version conflict (HTTP 412), the peer's current record, for the engine to re-merge. */
      readonly current?: ExternalRecord;
    };

export interface HealthReport {
  readonly ok: boolean;
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail?: string }[];
}

/** A request a connector receives through passerelle's HTTP server (webhooks, FHIR notifications). */
export interface HttpDelivery {
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Exact bytes received: signatures are checked on these before any parsing. */
  readonly body: Buffer;
  readonly query: Readonly<Record<string, string | undefined>>;
}
export interface HttpAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export interface ConnectorCapabilities {
  readonly kinds: readonly ResourceKind[];
  /** Can list changes since a cursor (polling: the truth, design rule 5). */
  readonly pull: boolean;
  /** Has a push receiver (MLLP listener, webhooks, Subscription): a low-latency hint. */
  readonly receive: boolean;
  readonly push: readonly ResourceKind[];
  /**
   * Kinds of referenced records the connector writes together with a change, handed over in
   * `OutboundChange.related` (HL7 v2: the Patient of an appointment message, for PID).
   */
  readonly related?: readonly ResourceKind[];
}

/** The mapping plan a link runs now and what mapping needs about the link (src/mapping, getActivePlan). */
export interface LinkMapping {
  readonly plan: MappingPlan;
  /** The practice's zone and the link's test flag. */
  readonly context: MappingContext;
}

export interface ConnectorContext {
  readonly link: Link;
  /** Decrypted credentials of the link, or null. */
  readonly secrets: JsonObject | null;
  /** Child logger carrying { connector, linkId, practiceId }: ids only. */
  readonly log: Logger;
  readonly now: Clock;
  /** Aborted when the link is stopped. */
  readonly signal: AbortSignal;
  /** The practice's IANA zone (Europe/Paris, America/Martinique…). */
  readonly timezone: string;
  /** Base URL where passerelle's HTTP server answers (webhook callbacks…). */
  readonly publicUrl: string;
  /**
   * The link's running mapping plan (its active custom profile, else its shipped one), from the
   * runtime's one plan cache (src/mapping/active-plans.ts): reloaded when the link starts and as
   * soon as a profile change is committed, so a change applies to the next message or page.
   * Connectors that translate through a profile (FHIR, HL7 v2) take it from here and keep no
   * cache of their own; absent when the caller has no store (then a connector may fall back to
   * the link's shipped profile).
   */
  readonly mapping?: () => Promise<LinkMapping>;
  /** The same, synchronously (a message path that must not wait): undefined before it is loaded. */
  readonly currentMapping?: () => LinkMapping | undefined;
  /** Reads the link's plan from the store again into the cache (before a replay maps a stored message). */
  readonly reloadMapping?: () => Promise<LinkMapping>;
  /**
   * Asks for a poll of this link as soon as possible: a push notification that carries no
   * change of its own (a FHIR Subscription rest-hook) is a hint, polling stays the truth
   * (design rule 5). Calls made while a poll runs are coalesced into one more poll.
   */
  readonly requestPoll?: () => void;
  /** Commit now, apply right after (see DeferredIngest); absent when the caller has no engine. */
  readonly deferred?: DeferredIngest;
  /**
   * The appointment types, with the practice's instructions for agents (consignes), of the
   * running mapping profiles of the practice's software links, read again at each call: what a
   * secretariat connector publishes to its platform.
   */
  readonly practiceCatalogue?: () => Promise<readonly AppointmentTypeEntry[]>;
  /** Where a listener counts and logs the connections it refuses (the service's metrics). */
  readonly refusals?: RefusalWatch;
  /**
   * Added to the listen port the link's config names (config `sync.listenPortOffset`): each
   * instance of a cluster on one host binds its own port behind the balancer. 0 when absent.
   */
  readonly listenPortOffset?: number;
  /**
   * The link's ids of `kind` in the identity map, a page at a time by canonical id (records
   * already cancelled or entered-in-error left out): what a poller whose peer keeps no deletion
   * history checks for existence (FHIR without type-level `_history`). Absent without a store.
   */
  readonly knownIds?: (
    kind: ResourceKind,
    afterCanonicalId: string | null,
    limit: number,
  ) => Promise<readonly { readonly canonicalId: string; readonly externalId: string }[]>;
}

export interface Connector {
  /** Starts the push receiver (MLLP listener, file watcher…); `handler` commits before it resolves. */
  start?(handler: InboundHandler): Promise<void>;
  pull?(cursor: string | null, limit: number): Promise<PullPage>;
  push(change: OutboundChange): Promise<PushResult>;
  /** A request for this link on `/hooks/<connector>/<linkId>`; answer after `handler` resolved. */
  receiveHttp?(delivery: HttpDelivery, handler: InboundHandler): Promise<HttpAnswer>;
  /**
   * Maps a stored message body again with the current mapping profile, for the replay of a
   * dead-lettered message (design rule 9). Without it, a replay re-applies the records as they
   * were first mapped.
   */
  remap?(stored: { readonly body: Buffer; readonly messageType: string }): Promise<InboundMessage>;
  health(): Promise<HealthReport>;
  stop(): Promise<void>;
  /**
   * Asks the platform's agents to call the practice back (issue 21: an urgent message the
   * practice did not acknowledge in time). Only a secretariat connector implements it.
   */
  requestCallback?(request: CallbackRequestInput): Promise<{ readonly id: string }>;
  /**
   * Publishes a version of the practice's consignes and scripts to the platform (issue 21
   * point 1). Only a secretariat connector implements it.
   */
  publishConsignes?(consignes: {
    readonly version: number;
    readonly document: JsonObject;
  }): Promise<{ readonly publishedAt: string }>;
  /**
   * Replaces a practitioner's bookable slots on the platform with the free slots passerelle
   * computed from the practice's agenda rules (issue 20). Only a secretariat connector
   * implements it; the outbox calls it (src/sync/agenda-publish.ts).
   */
  publishSlots?(publication: SlotPublicationInput): Promise<AgendaPublishResult>;
  /** Replaces the practice's coverage windows on the platform (issue 20). */
  publishCoverage?(publication: CoveragePublicationInput): Promise<AgendaPublishResult>;
  /**
   * Hands the day's reminders and recalls to the platform's agents (issue 21 point 3); the
   * platform keeps one per `reference`, so a resend changes nothing. Only a secretariat
   * connector implements it.
   */
  handReminders?(items: readonly ReminderHandoff[]): Promise<readonly { reference: string; id: string }[]>;
  /** The outcomes the agents reported since `since` (polled: design rule 5). Secretariat only. */
  reminderOutcomes?(since: string): Promise<readonly ReminderOutcomeReport[]>;
  /**
   * Records a reminder's outcome in the practice software (FHIR: a Communication about the
   * appointment). Only a practice connector whose peer can hold it implements it.
   */
  recordReminderOutcome?(outcome: ReminderWriteBack): Promise<{ readonly id: string }>;
  /**
   * The platform's call figures for one of the practice's local days (issue 21 point 4). Only
   * a secretariat connector implements it.
   */
  callStatistics?(day: string): Promise<CallKpis>;
}

/** One reminder or recall as passerelle hands it (platform ids from the identity map). */
export interface ReminderHandoff {
  /** passerelle's reminder id. */
  readonly reference: string;
  readonly kind: 'reminder' | 'recall';
  readonly patientId: string;
  readonly appointmentId: string | null;
  readonly visitType: string | null;
  readonly dueOn: string;
  readonly appointmentStart: string | null;
  /** French text for the agent; no patient data. */
  readonly note: string;
}

export type ReminderOutcomeCode = 'reached' | 'not-reached' | 'rebooked' | 'declined';

export interface ReminderOutcomeReport {
  readonly reference: string;
  readonly outcome: ReminderOutcomeCode;
  readonly optOut: boolean;
  readonly at: string;
}

/** What the practice software is told of a reminder's outcome (its own ids from the identity map). */
export interface ReminderWriteBack {
  /** passerelle's reminder id: the written record's business identifier (a retry creates nothing twice). */
  readonly reference: string;
  readonly kind: 'reminder' | 'recall';
  readonly patientId: string;
  readonly appointmentId: string | null;
  readonly outcome: ReminderOutcomeCode;
  readonly optOut: boolean;
  readonly at: string;
  /** French, for the practice's staff. */
  readonly text: string;
}

/** A practitioner's free slots over the horizon, as passerelle publishes them. */
export interface SlotPublicationInput {
  /** The practitioner's id on this link (identity map). */
  readonly practitionerExternalId: string;
  readonly from: string;
  readonly to: string;
  readonly slots: readonly {
    readonly start: string;
    readonly end: string;
    readonly status: 'free' | 'urgent-only';
    /** The rules' visit type code: the platform's appointment-type id. */
    readonly visitType: string;
  }[];
  /** The platform's version of the publication last made; null for the first one. */
  readonly expectedVersion: string | null;
  /** Stable per outbox row: a retried publication is applied once. */
  readonly idempotencyKey: string;
}

/** The practice's coverage windows over the horizon (French labels, no patient data). */
export interface CoveragePublicationInput {
  readonly timeZone: string;
  readonly from: string;
  readonly to: string;
  readonly windows: readonly {
    readonly start: string;
    readonly end: string;
    readonly kind: 'regular' | 'reinforcement';
    readonly label: string | null;
  }[];
  readonly expectedVersion: string | null;
  readonly idempotencyKey: string;
}

export type AgendaPublishResult =
  | { readonly ok: true; readonly version: string }
  | {
      readonly ok: false;
      readonly error: PasserelleError;
      /** On a version conflict: the version in force on the platform (null: nothing there), to publish over. */
      readonly currentVersion?: string | null;
    };

/** What passerelle asks of the secretariat when an urgent message stays unacknowledged. */
export interface CallbackRequestInput {
  /** The canonical Communication id (the connector finds its own id for it, if any). */
  readonly canonicalId: string;
  /** Its id on this link, from the identity map; null when unknown. */
  readonly externalId: string | null;
  readonly priority: string;
  /** French text for the agent; no patient data. */
  readonly note: string;
  readonly requestedAt: string;
  /** Stable per message and step: a retried request is taken once. */
  readonly idempotencyKey: string;
}

/** What `passerelle link test <id>` prints, and whether the link passed. */
export interface LinkTestOutcome {
  readonly ok: boolean;
  readonly text: string;
  /** The checklist item by item (POST /api/v1/links/:id/test); without it, the text is one item. */
  readonly checks?: readonly LinkTestCheck[];
}

export interface LinkTestCheck {
  readonly name: string;
  readonly ok: boolean;
  /** An optional item never fails the test. */
  readonly required: boolean;
  readonly detail?: string;
}

/** One command-line option of a simulator (commander syntax: `--port <n>`, `--secret <s...>`). */
export interface SimulatorOption {
  readonly flags: string;
  readonly description: string;
  readonly default?: string;
  readonly choices?: readonly string[];
}

/**
 * The peer a connector talks to, simulated for demos, tests and the conformance suite:
 * `passerelle simulate <command>` runs it with its options.
 */
export interface ConnectorSimulator {
  /** The `passerelle simulate` subcommand (`hl7` for the hl7v2 connector). */
  readonly command: string;
  readonly summary: string;
  readonly options: readonly SimulatorOption[];
  /**
   * Starts the simulator with the parsed options (bad values: ERR_CLI_USAGE), prints where it
   * answers with `out`, calls `started` with its stopper as soon as it listens (the CLI stops it
   * on SIGTERM/SIGINT from then on), and resolves once its scripted work, if any, is done.
   */
  run(
    options: Readonly<Record<string, unknown>>,
    io: { readonly out: (line: string) => void; readonly started: (close: () => Promise<void>) => void },
  ): Promise<void>;
}

export interface ConnectorDefinition<C = JsonObject> {
  /** Equals the folder name under connectors/ and `link.connector`. */
  readonly name: string;
  /**
   * What the connector speaks: for a connector that translates through a mapping profile, the
   * profile protocol its links' profiles must have (`fhir-r4`, `hl7v2`); else a name of its own.
   */
  readonly protocol: string;
  /**
   * The shipped mapping profile (mappings/<name>.yaml) a link runs when its `profile` is null.
   * Absent: the connector takes no mapping profile (its mapping is code, like the secretariat's).
   */
  readonly defaultProfile?: string;
  /** The connector's README, from the repository root (connectors/<name>/README.md). */
  readonly docs?: string;
  /**
   * `passerelle link test <id>`: connects with the link's configuration and credentials and
   * checks what its peer offers against what the link needs. Without it, the CLI says the
   * connector has no link test.
   */
  linkTest?(
    link: Link,
    secrets: JsonObject | null,
    mapping: LinkMapping & { readonly version: number | null },
  ): Promise<LinkTestOutcome>;
  /** Its peer, simulated (every shipped connector has one: test/connector/registered.test.ts). */
  readonly simulator?: ConnectorSimulator;
  /**
   * Validates `link.config`; unknown keys are errors (validate before touching anything). A
   * field that may hold a secret is marked `.meta({ writeOnly: true })`: the API masks it
   * (src/connector/config-schema.ts).
   */
  readonly configSchema: z.ZodType<C>;
  /** The shape of `link.secrets` (encrypted credentials), for the console's forms; every field is a secret. */
  readonly secretsSchema?: z.ZodType;
  /**
   * The config's outbound URLs (where patient data and credentials go): each must be https
   * unless the link is a test link or the host is loopback, checked before the link starts.
   */
  outboundUrls?(config: C): readonly OutboundUrl[];
  readonly capabilities: ConnectorCapabilities;
  /**
   * node-cron expression for the link's poll when `link.schedule` is null (e.g. the secretariat
   * feed every 30 s); without it, the runtime's default (every minute).
   */
  readonly defaultPollSchedule?: string;
  /**
   * Whether the peer can hold a canonical field (a merge path, src/model/fields.ts) of a record
   * of `kind`. A field it cannot hold (the practice's IPP on the secretariat platform) is never
   * taken as changed or removed by a record from that peer, nor a reason to write back to it.
   * Without it, the peer holds every field.
   */
  readonly holds?: (kind: ResourceKind, path: string) => boolean;
  /**
   * What the peer keeps of a canonical record written to it, in canonical form: a field it
   * holds only in part (a name without its title, five given names of six) comes back
   * different without having been changed there. The engine compares what the peer sent with
   * this view, not with the whole record, before writing the record back to it. Without it,
   * the peer keeps every field whole.
   */
  readonly view?: (record: CanonicalResource) => CanonicalResource;
  /**
   * Orders two versions of one record, for a peer whose versions are ordered (the secretariat's
   * are integers): a record older than the one last synced with that side (a feed entry pulled
   * again after a newer write) is history there, not a change. Without it, versions are opaque.
   */
  readonly compareVersions?: (a: string, b: string) => number;
  create(config: C, ctx: ConnectorContext): Connector;
}

/** Declares a connector; the identity function keeps C inferred from the schema. */
export function defineConnector<C>(def: ConnectorDefinition<C>): ConnectorDefinition<C> {
  return def;
}
