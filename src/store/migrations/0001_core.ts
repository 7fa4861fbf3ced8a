import { dialectTypes, runScript, type StoreMigration } from './types.js';

/** The tables design.md names: tenants and links, canonical records, sync state, queues, audit, secrets. */
export const migration0001: StoreMigration = {
  name: '0001_core',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE practices (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  timezone TEXT NOT NULL,
  settings TEXT NOT NULL DEFAULT '{}',
  version INTEGER NOT NULL DEFAULT 1,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);

CREATE TABLE links (
  id TEXT PRIMARY KEY,
  practice_id TEXT NOT NULL REFERENCES practices(id),
  role TEXT NOT NULL,
  connector TEXT NOT NULL,
  name TEXT NOT NULL,
  profile TEXT,
  config TEXT NOT NULL DEFAULT '{}',
  secrets TEXT,
  schedule TEXT,
  is_test INTEGER NOT NULL DEFAULT 0,
  enabled INTEGER NOT NULL DEFAULT 1,
  version INTEGER NOT NULL DEFAULT 1,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE INDEX links_practice ON links (practice_id);

CREATE TABLE resources (
  id TEXT PRIMARY KEY,
  practice_id TEXT NOT NULL REFERENCES practices(id),
  kind TEXT NOT NULL,
  data TEXT NOT NULL,
  hash TEXT NOT NULL,
  version INTEGER NOT NULL,
  origin TEXT NOT NULL,
  start_at ${t.bigint},
  end_at ${t.bigint},
  practitioner_id TEXT,
  patient_id TEXT,
  status TEXT,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE INDEX resources_kind ON resources (practice_id, kind, updated_at);
CREATE INDEX resources_agenda ON resources (practice_id, kind, start_at);
CREATE INDEX resources_practitioner ON resources (practitioner_id, kind, start_at);

CREATE TABLE identity_map (
  link_id TEXT NOT NULL REFERENCES links(id),
  kind TEXT NOT NULL,
  external_id TEXT NOT NULL,
  canonical_id TEXT NOT NULL,
  practice_id TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  PRIMARY KEY (link_id, kind, external_id)
);
CREATE INDEX identity_map_canonical ON identity_map (link_id, kind, canonical_id);

CREATE TABLE snapshots (
  link_id TEXT NOT NULL REFERENCES links(id),
  kind TEXT NOT NULL,
  canonical_id TEXT NOT NULL,
  data TEXT NOT NULL,
  hash TEXT NOT NULL,
  external_version TEXT,
  synced_at ${t.bigint} NOT NULL,
  PRIMARY KEY (link_id, kind, canonical_id)
);

CREATE TABLE inbox (
  id ${t.serial},
  link_id TEXT NOT NULL REFERENCES links(id),
  dedupe_key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  message_type TEXT NOT NULL,
  body ${t.bytes},
  status TEXT NOT NULL,
  response ${t.bytes},
  error_code TEXT,
  error TEXT,
  flags TEXT NOT NULL DEFAULT '[]',
  received_at ${t.bigint} NOT NULL,
  processed_at ${t.bigint}
);
CREATE UNIQUE INDEX inbox_dedupe ON inbox (link_id, dedupe_key, body_hash);
CREATE INDEX inbox_status ON inbox (status, id);
CREATE INDEX inbox_received ON inbox (received_at);

CREATE TABLE outbox (
  seq ${t.serial},
  practice_id TEXT NOT NULL,
  link_id TEXT NOT NULL REFERENCES links(id),
  kind TEXT NOT NULL,
  record_id TEXT NOT NULL,
  op TEXT NOT NULL,
  payload TEXT NOT NULL,
  priority INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at ${t.bigint} NOT NULL,
  lease_owner TEXT,
  lease_until ${t.bigint},
  idempotency_key TEXT NOT NULL,
  content_hash TEXT,
  last_error_code TEXT,
  last_error TEXT,
  result TEXT,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  done_at ${t.bigint}
);
CREATE UNIQUE INDEX outbox_idempotency ON outbox (idempotency_key);
CREATE INDEX outbox_ready ON outbox (status, priority, next_attempt_at, seq);
CREATE INDEX outbox_record ON outbox (link_id, record_id, seq);

CREATE TABLE conflicts (
  id TEXT PRIMARY KEY,
  practice_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  record_id TEXT NOT NULL,
  fields TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  resolution TEXT,
  resolved_by TEXT,
  created_at ${t.bigint} NOT NULL,
  resolved_at ${t.bigint}
);
CREATE INDEX conflicts_open ON conflicts (practice_id, status, created_at);
CREATE INDEX conflicts_record ON conflicts (record_id, status);

CREATE TABLE review_items (
  id TEXT PRIMARY KEY,
  practice_id TEXT NOT NULL,
  type TEXT NOT NULL,
  record_id TEXT,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  resolution TEXT,
  resolved_by TEXT,
  created_at ${t.bigint} NOT NULL,
  resolved_at ${t.bigint}
);
CREATE INDEX review_items_open ON review_items (practice_id, status, created_at);

CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY,
  practice_id TEXT,
  link_id TEXT,
  source TEXT NOT NULL,
  ref TEXT,
  kind TEXT,
  record_id TEXT,
  reason_code TEXT NOT NULL,
  reason TEXT NOT NULL,
  payload TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  resolved_by TEXT,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE INDEX dead_letters_open ON dead_letters (status, created_at);
CREATE INDEX dead_letters_link ON dead_letters (link_id, status);

CREATE TABLE cursors (
  link_id TEXT NOT NULL REFERENCES links(id),
  stream TEXT NOT NULL,
  cursor TEXT,
  last_success_at ${t.bigint},
  last_error TEXT,
  updated_at ${t.bigint} NOT NULL,
  PRIMARY KEY (link_id, stream)
);

CREATE TABLE audit_events (
  seq ${t.serial},
  at ${t.bigint} NOT NULL,
  actor TEXT NOT NULL,
  role TEXT,
  action TEXT NOT NULL,
  resource_type TEXT,
  resource_id TEXT,
  patient_id TEXT,
  outcome TEXT NOT NULL,
  request_id TEXT,
  via TEXT,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_events_patient ON audit_events (patient_id, seq);

CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY,
  seq ${t.bigint} NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE ical_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  practice_id TEXT NOT NULL REFERENCES practices(id),
  practitioner_id TEXT,
  label TEXT,
  privacy TEXT NOT NULL,
  full_allowed INTEGER NOT NULL DEFAULT 0,
  created_by TEXT,
  created_at ${t.bigint} NOT NULL,
  expires_at ${t.bigint},
  unused_expiry_days INTEGER,
  last_used_at ${t.bigint},
  revoked_at ${t.bigint}
);
CREATE INDEX ical_tokens_practice ON ical_tokens (practice_id);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  role TEXT NOT NULL,
  label TEXT,
  practice_id TEXT,
  created_by TEXT,
  created_at ${t.bigint} NOT NULL,
  last_used_at ${t.bigint},
  revoked_at ${t.bigint}
)
`,
    );
  },
};
