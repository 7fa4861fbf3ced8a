/**
 * Table types as kysely sees them. Both stores share them: times are epoch milliseconds
 * (BIGINT, parsed to number), JSON is TEXT, booleans are 0/1 integers, bodies are bytes.
 * Column names are snake_case; repositories convert to camelCase domain objects.
 */
import type { Generated } from 'kysely';

type Json = string;
type Ms = number;
type Bool = number;

export interface PracticesTable {
  id: string;
  name: string;
  timezone: string;
  settings: Json;
  version: number;
  created_at: Ms;
  updated_at: Ms;
}

export interface LinksTable {
  id: string;
  practice_id: string;
  /** Which side of the practice this link connects: the secretariat platform or the practice software. */
  role: string;
  connector: string;
  name: string;
  profile: string | null;
  config: Json;
  /** Connector credentials, AES-256-GCM encrypted (see src/security/secrets.ts), or null. */
  secrets: string | null;
  schedule: string | null;
  is_test: Bool;
  enabled: Bool;
  version: number;
  created_at: Ms;
  updated_at: Ms;
}

export interface ResourcesTable {
  id: string;
  practice_id: string;
  kind: string;
  /** Sealed (src/store/sealer.ts), as are every column marked so below. */
  data: Json;
  hash: string;
  version: number;
  origin: string;
  start_at: Ms | null;
  end_at: Ms | null;
  practitioner_id: string | null;
  patient_id: string | null;
  status: string | null;
  created_at: Ms;
  updated_at: Ms;
}

export interface IdentityMapTable {
  link_id: string;
  kind: string;
  /** HMAC under the store key of the peer's id (0007_sealing; before it, the id itself). */
  external_id: string;
  /** The peer's id, sealed (0007_sealing): it may be a patient identifier. */
  external_sealed: string | null;
  canonical_id: string;
  practice_id: string;
  created_at: Ms;
}

export interface SnapshotsTable {
  link_id: string;
  kind: string;
  canonical_id: string;
  /** Sealed. */
  data: Json;
  hash: string;
  external_version: string | null;
  synced_at: Ms;
}

export interface InboxTable {
  id: Generated<number>;
  link_id: string;
  dedupe_key: string;
  body_hash: string;
  message_type: string;
  /** Sealed. */
  body: Buffer | null;
  status: string;
  response: Buffer | null;
  error_code: string | null;
  error: string | null;
  flags: Json;
  received_at: Ms;
  processed_at: Ms | null;
}

export interface OutboxTable {
  seq: Generated<number>;
  practice_id: string;
  link_id: string;
  kind: string;
  record_id: string;
  op: string;
  /** Sealed. */
  payload: Json;
  priority: number;
  status: string;
  attempts: number;
  next_attempt_at: Ms;
  lease_owner: string | null;
  lease_until: Ms | null;
  idempotency_key: string;
  content_hash: string | null;
  last_error_code: string | null;
  last_error: string | null;
  result: Json | null;
  created_at: Ms;
  updated_at: Ms;
  done_at: Ms | null;
}

export interface ConflictsTable {
  id: string;
  practice_id: string;
  kind: string;
  record_id: string;
  /** Sealed (both sides' values), as is `resolution`. */
  fields: Json;
  status: string;
  reason: string | null;
  resolution: Json | null;
  resolved_by: string | null;
  created_at: Ms;
  resolved_at: Ms | null;
}

export interface ReviewItemsTable {
  id: string;
  practice_id: string;
  type: string;
  record_id: string | null;
  /** Sealed, as is `resolution`. */
  payload: Json;
  status: string;
  resolution: Json | null;
  resolved_by: string | null;
  created_at: Ms;
  resolved_at: Ms | null;
}

export interface DeadLettersTable {
  id: string;
  practice_id: string | null;
  link_id: string | null;
  source: string;
  ref: string | null;
  kind: string | null;
  record_id: string | null;
  reason_code: string;
  reason: string;
  /** Sealed. */
  payload: Json | null;
  attempts: number;
  status: string;
  resolved_by: string | null;
  created_at: Ms;
  updated_at: Ms;
}

export interface CursorsTable {
  link_id: string;
  stream: string;
  cursor: string | null;
  last_success_at: Ms | null;
  last_error: string | null;
  updated_at: Ms;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  at: Ms;
  actor: string;
  role: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  patient_id: string | null;
  outcome: string;
  request_id: string | null;
  via: string | null;
  details: Json;
  prev_hash: string;
  hash: string;
  /** 0006: null on events older than the migration and on events of no single practice. */
  practice_id: string | null;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
  /** 0006: the last plain SHA-256 event before the keyed chain (repos/audit.ts). */
  anchor_seq: number | null;
  anchor_hash: string | null;
  anchor_mac: string | null;
  /** 0006: the first kept event's predecessor after a retention purge of the chain's prefix. */
  base_seq: number | null;
  base_hash: string | null;
  base_mac: string | null;
}

export interface IcalTokensTable {
  id: string;
  token_hash: string;
  practice_id: string;
  practitioner_id: string | null;
  label: string | null;
  privacy: string;
  full_allowed: Bool;
  created_by: string | null;
  created_at: Ms;
  expires_at: Ms | null;
  unused_expiry_days: number | null;
  last_used_at: Ms | null;
  revoked_at: Ms | null;
  /** Bumped by every settings change (0003_ical): part of the feed's ETag. */
  version: number;
  /** Null only for rows written before 0003_ical ran and not yet backfilled. */
  updated_at: Ms | null;
}

/** One row per practice: a change counter bumped at the end of each transaction that wrote its records (0003_ical). */
export interface ChangeCountersTable {
  practice_id: string;
  seq: number;
  updated_at: Ms;
}

export interface ApiKeysTable {
  id: string;
  key_hash: string;
  prefix: string;
  role: string;
  label: string | null;
  practice_id: string | null;
  created_by: string | null;
  created_at: Ms;
  last_used_at: Ms | null;
  revoked_at: Ms | null;
}

/** Hashed patient-matching keys (0002_sync); see src/sync/patient-match.ts. */
export interface MatchKeysTable {
  practice_id: string;
  /** HMAC under the store key of the match key (0007_sealing; before it, the unkeyed SHA-256). */
  key_hash: string;
  /** The unkeyed match key, sealed, so that a key rotation can recompute `key_hash` (0007_sealing). */
  key_sealed: string | null;
  resource_id: string;
  kind: string;
  created_at: Ms;
}

/** One version of a link's mapping profile (src/mapping); one per link is active. */
export interface MappingProfilesTable {
  link_id: string;
  version: number;
  /** The profile's `name` (shipped profile it derives from, or its own). */
  name: string;
  yaml: string;
  /** SHA-256 of the YAML text. */
  hash: string;
  created_by: string | null;
  created_at: Ms;
  active: Bool;
  comment: string | null;
}

/** Append-only activity of a practice (0005_reports); see src/sync/activity.ts. */
export interface ActivityEventsTable {
  seq: Generated<number>;
  practice_id: string;
  at: Ms;
  type: string;
  origin: string | null;
  link_id: string | null;
  kind: string | null;
  record_id: string | null;
  practitioner_id: string | null;
  priority: string | null;
  latency_ms: number | null;
  detail: string | null;
  dedupe_key: string | null;
}

/** One daily digest per practice and local day (0005_reports), with its webhook delivery state. */
export interface DigestsTable {
  practice_id: string;
  /** YYYY-MM-DD in the practice's zone. */
  day: string;
  report: Json;
  created_at: Ms;
  /** null: no webhook when it was made; `pending` until a POST got a 2xx; then `delivered`. */
  webhook_status: string | null;
  webhook_attempts: number;
  webhook_error: string | null;
  delivered_at: Ms | null;
}

/** The practice software's id of a practitioner on a link → the canonical practitioner (0008). */
export interface PractitionerMappingsTable {
  link_id: string;
  local_id: string;
  practice_id: string;
  /** `open` (the review, nothing decided) or `mapped`. */
  status: string;
  practitioner_id: string | null;
  /** The practitioner as the link named it (name, identifiers), JSON; no patient data. */
  proposal: Json | null;
  /** How it was decided: `existing`, `rpps` or `created`. */
  resolution: string | null;
  resolved_by: string | null;
  created_at: Ms;
  updated_at: Ms;
  resolved_at: Ms | null;
}

/** An appointment applied without its unmapped practitioner, held back from the other side. */
export interface PractitionerMappingHoldsTable {
  link_id: string;
  local_id: string;
  appointment_id: string;
  practice_id: string;
  created_at: Ms;
}

/** Console sessions (0009_console_sessions): hashes of cookie tokens, never the tokens. */
export interface ConsoleSessionsTable {
  id: string;
  token_hash: string;
  /** API key id, or `oidc:<issuer host>:<sub>`. */
  actor: string;
  label: string | null;
  role: string;
  practice_id: string | null;
  /** `key` or `oidc`. */
  via: string;
  key_id: string | null;
  csrf_token: string;
  created_at: Ms;
  last_seen_at: Ms;
  expires_at: Ms;
}

/** A practitioner's agenda rules (0010). */
export interface AgendaRulesTable {
  practice_id: string;
  practitioner_id: string;
  /** src/agenda/rules.ts, JSON as written (defaults not filled in). */
  rules: Json;
  version: number;
  updated_by: string;
  updated_at: Ms;
}

/** The hours the secretariat covers for a practice (0010). */
export interface CoverageWindowsTable {
  practice_id: string;
  windows: Json;
  version: number;
  updated_by: string;
  updated_at: Ms;
}

/** A practice's permission to book one time outside its agenda rules (0010). */
export interface ForcedBookingsTable {
  id: string;
  practice_id: string;
  practitioner_id: string;
  start_at: Ms;
  end_at: Ms;
  reason: string;
  created_by: string;
  created_at: Ms;
  used_by: string | null;
}

/** Urgent call messages and their escalation (0012_urgent_messages). */
export interface UrgentMessagesTable {
  communication_id: string;
  practice_id: string;
  priority: string;
  taken_at: Ms;
  due_at: Ms;
  state: string;
  step: number;
  next_at: Ms | null;
  attempts: number;
  acknowledged_at: Ms | null;
  ack_via: string | null;
  ack_by: string | null;
  link_nonce: string;
  link_used_at: Ms | null;
  consignes_version: number | null;
  created_at: Ms;
  updated_at: Ms;
}
export interface UrgentMessageEventsTable {
  id: Generated<number>;
  communication_id: string;
  practice_id: string;
  at: Ms;
  kind: string;
  outcome: string;
  /** JSON: ids, codes and statuses only. */
  details: string;
}

/** Consignes, one row per version (0012_urgent_messages). */
export interface ConsignesTable {
  practice_id: string;
  version: number;
  document: string;
  author: string;
  diff: string;
  created_at: Ms;
  published_at: Ms | null;
  publish_error: string | null;
}

/** Reminders and recalls handed to the secretariat (0015_reminders). */
export interface RemindersTable {
  id: string;
  practice_id: string;
  kind: string;
  dedupe_key: string;
  appointment_id: string | null;
  patient_id: string;
  visit_type: string | null;
  due_on: string;
  appointment_start: Ms | null;
  pass_day: string;
  handed_at: Ms | null;
  platform_id: string | null;
  hand_attempts: number;
  hand_error: string | null;
  outcome: string | null;
  outcome_at: Ms | null;
  opt_out: number;
  written_back_at: Ms | null;
  write_back_error: string | null;
  created_at: Ms;
  updated_at: Ms;
}
export interface ReminderOptoutsTable {
  practice_id: string;
  patient_id: string;
  at: Ms;
  via: string;
}
export interface ReminderPassesTable {
  practice_id: string;
  day: string;
  ran_at: Ms;
  /** JSON: counts handed and skipped per reason. */
  counts: string;
}

/** The secretariat's call KPIs, one row per practice and local day (0016_call_kpis). */
export interface CallKpisTable {
  practice_id: string;
  day: string;
  link_id: string;
  /** JSON: counts and seconds (CallKpis without `day`). */
  figures: string;
  fetched_at: Ms;
}

/** Reviews posted to a practice's digest webhook (0016_call_kpis). */
export interface ReviewDeliveriesTable {
  practice_id: string;
  kind: string;
  start_day: string;
  attempts: number;
  delivered_at: Ms | null;
  last_error: string | null;
  updated_at: Ms;
}

export interface Database {
  practices: PracticesTable;
  links: LinksTable;
  resources: ResourcesTable;
  identity_map: IdentityMapTable;
  snapshots: SnapshotsTable;
  inbox: InboxTable;
  outbox: OutboxTable;
  conflicts: ConflictsTable;
  review_items: ReviewItemsTable;
  dead_letters: DeadLettersTable;
  cursors: CursorsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  ical_tokens: IcalTokensTable;
  api_keys: ApiKeysTable;
  change_counters: ChangeCountersTable;
  match_keys: MatchKeysTable;
  mapping_profiles: MappingProfilesTable;
  activity_events: ActivityEventsTable;
  digests: DigestsTable;
  practitioner_mappings: PractitionerMappingsTable;
  practitioner_mapping_holds: PractitionerMappingHoldsTable;
  console_sessions: ConsoleSessionsTable;
  agenda_rules: AgendaRulesTable;
  coverage_windows: CoverageWindowsTable;
  forced_bookings: ForcedBookingsTable;
  urgent_messages: UrgentMessagesTable;
  urgent_message_events: UrgentMessageEventsTable;
  consignes: ConsignesTable;
  reminders: RemindersTable;
  reminder_optouts: ReminderOptoutsTable;
  reminder_passes: ReminderPassesTable;
  call_kpis: CallKpisTable;
  review_deliveries: ReviewDeliveriesTable;
}
