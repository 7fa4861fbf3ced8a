/**
 * The error catalogue: every error passerelle raises has a stable code listed here, with its
 * HTTP status and whether retrying can help. Codes are never reused or renamed; `docs/errors.md`
 * lists them all and a test keeps the two in step (shared/style.md §5).
 *
 * Messages must never contain patient data: they are logged and may be sent to peers.
 * Put identifiers of *our* objects (link id, change id, field path) in `details`.
 */

export const ERROR_CATALOGUE = {
  // Configuration and start-up
  ERR_CONFIG_INVALID: {
    status: 500,
    retryable: false,
    summary: 'The configuration file or environment is invalid.',
  },
  ERR_CONFIG_FILE_UNREADABLE: {
    status: 500,
    retryable: false,
    summary: 'The configuration file (or a *_FILE secret) cannot be read.',
  },
  ERR_HTTP_LISTEN_FAILED: {
    status: 500,
    retryable: false,
    summary:
      'The HTTP listener cannot bind http.host:http.port (address in use, not permitted or not on this machine); nothing was written to the store.',
  },

  // Canonical model
  ERR_MODEL_INVALID: {
    status: 422,
    retryable: false,
    summary: 'A resource breaks a rule of the canonical model (FHIR R4 subset + FR Core).',
  },

  // Store
  ERR_STORE_UNAVAILABLE: { status: 503, retryable: true, summary: 'The store cannot be reached.' },
  ERR_STORE_MIGRATION_FAILED: {
    status: 500,
    retryable: false,
    summary: 'A schema migration failed; nothing after it was applied.',
  },
  ERR_STORE_MIGRATIONS_PENDING: {
    status: 503,
    retryable: true,
    summary: 'The store schema is older than this version of passerelle.',
  },
  ERR_STORE_CONFLICT: {
    status: 409,
    retryable: false,
    summary: 'The row was changed concurrently or already exists.',
  },

  // HTTP API
  ERR_AUTH_REQUIRED: { status: 401, retryable: false, summary: 'No valid API key was presented.' },
  ERR_AUTH_FORBIDDEN: {
    status: 403,
    retryable: false,
    summary: 'The API key is valid but its role does not allow this action.',
  },
  ERR_NOT_FOUND: { status: 404, retryable: false, summary: 'No such resource.' },
  ERR_VALIDATION: {
    status: 400,
    retryable: false,
    summary: 'The request body, query or parameters are invalid.',
  },
  ERR_CONFLICT: {
    status: 409,
    retryable: false,
    summary: 'The request conflicts with the current state of the resource.',
  },
  ERR_RATE_LIMITED: {
    status: 429,
    retryable: true,
    summary: 'Too many requests; retry after the delay given.',
  },
  ERR_CSRF: {
    status: 403,
    retryable: false,
    summary:
      'A change authenticated by the console session cookie lacks the X-CSRF-Token header of that session.',
  },
  ERR_INTERNAL: {
    status: 500,
    retryable: false,
    summary: 'An unexpected error; the request id locates it in the logs.',
  },

  // Security
  ERR_CRYPTO_KEY_INVALID: {
    status: 500,
    retryable: false,
    summary: 'The encryption key for credentials at rest is missing or malformed.',
  },
  ERR_CRYPTO_DECRYPT_FAILED: {
    status: 500,
    retryable: false,
    summary:
      'A sealed value (credentials, patient data) does not authenticate: altered, moved from its row, or another key.',
  },
  ERR_CRYPTO_KEY_UNKNOWN: {
    status: 500,
    retryable: false,
    summary:
      'A sealed value names a key id that is neither security.encryptionKey nor one of security.previousEncryptionKeys.',
  },

  // Audit
  ERR_AUDIT_CHAIN_BROKEN: {
    status: 500,
    retryable: false,
    summary: 'The audit trail hash chain does not verify.',
  },
  ERR_AUDIT_KEY_INVALID: {
    status: 500,
    retryable: false,
    summary: 'The audit key is missing, unreadable or not 32 bytes.',
  },
  ERR_AUDIT_KEY_REQUIRED: {
    status: 500,
    retryable: false,
    summary: 'The audit chain is keyed and this process was given no audit key.',
  },
  ERR_AUDIT_KEY_MISMATCH: {
    status: 500,
    retryable: false,
    summary: 'The configured audit key is not the one the audit chain was keyed with.',
  },
  ERR_AUDIT_CHECKPOINT_UNWRITABLE: {
    status: 500,
    retryable: false,
    summary: 'The audit checkpoint file cannot be opened or written.',
  },

  // RGPD rights (src/privacy)
  ERR_PATIENT_ERASE_PENDING: {
    status: 409,
    retryable: true,
    summary:
      'The patient still has changes waiting to be delivered; erase once they are delivered or dead-lettered.',
  },

  // FHIR client (connectors/fhir/client). `details.httpStatus` carries the peer's own status.
  ERR_FHIR_HTTP: {
    status: 502,
    retryable: false,
    summary: 'The FHIR server answered an HTTP error without an OperationOutcome.',
  },
  ERR_FHIR_OPERATION_OUTCOME: {
    status: 502,
    retryable: false,
    summary: 'The FHIR server refused the request with an OperationOutcome (issue codes in details).',
  },
  ERR_FHIR_PRECONDITION_FAILED: {
    status: 412,
    retryable: false,
    summary:
      'The FHIR resource changed since it was read (If-Match failed) or a condition matched several resources.',
  },
  ERR_FHIR_TIMEOUT: {
    status: 504,
    retryable: true,
    summary: 'The FHIR server did not answer within the configured timeout.',
  },
  ERR_FHIR_NETWORK: {
    status: 503,
    retryable: true,
    summary: 'The FHIR server could not be reached (connection refused, reset, DNS).',
  },
  ERR_FHIR_AUTH: {
    status: 502,
    retryable: false,
    summary:
      'Authentication with the FHIR server failed (token endpoint error, or 401/403 after a fresh token).',
  },
  ERR_FHIR_RESPONSE_INVALID: {
    status: 502,
    retryable: false,
    summary: 'The FHIR server answered something that is not the FHIR JSON expected.',
  },

  // FHIR connector (connectors/fhir): edge validation, writes, link test, Subscription hints.
  ERR_FHIR_EDGE_INVALID: {
    status: 422,
    retryable: false,
    summary:
      'A FHIR resource from the practice software breaks an FR Core rule checked at the edge (INS system and key, qualified identity, one official identifier, test OIDs on a test link only); it is dead-lettered, nothing of it applied.',
  },
  ERR_FHIR_PUSH_REFUSED: {
    status: 422,
    retryable: false,
    summary:
      "This change cannot be written to the FHIR server: the link's profile does not write this kind, filters the record out, or the operation has no FHIR form.",
  },
  ERR_FHIR_GONE: {
    status: 409,
    retryable: false,
    summary:
      'The FHIR resource was deleted on the server (410 Gone or 404): passerelle takes it as cancelled or inactive instead of writing it again.',
  },
  ERR_FHIR_CREDENTIALS: {
    status: 500,
    retryable: false,
    summary:
      "The link's credentials lack what its FHIR authentication needs (password, token or private key).",
  },
  ERR_FHIR_SUBSCRIPTION_SECRET: {
    status: 401,
    retryable: false,
    summary: 'A FHIR Subscription notification lacks the shared secret header the link expects.',
  },

  // Secretariat connector (connectors/secretariat): remote failures are classified once, in the client's request helper.
  ERR_SECRETARIAT_HTTP: {
    status: 502,
    retryable: true,
    summary: 'The secretariat platform answered 429 or 5xx, or could not be reached, after every retry.',
  },
  ERR_SECRETARIAT_TIMEOUT: {
    status: 504,
    retryable: true,
    summary: 'The secretariat platform did not answer within the timeout, after every retry.',
  },
  ERR_SECRETARIAT_REJECTED: {
    status: 422,
    retryable: false,
    summary: 'The secretariat platform refused the request (a 4xx other than 401, 403, 412 and 429).',
  },
  ERR_SECRETARIAT_AUTH: {
    status: 502,
    retryable: false,
    summary: "The secretariat platform refused the link's API token (401 or 403).",
  },
  ERR_SECRETARIAT_VERSION_CONFLICT: {
    status: 409,
    retryable: false,
    summary: 'The record changed on the secretariat platform since it was read (If-Match failed, 412).',
  },
  ERR_SECRETARIAT_BAD_RESPONSE: {
    status: 502,
    retryable: false,
    summary: 'The secretariat platform answered something that does not follow its contract.',
  },
  ERR_SECRETARIAT_CREDENTIALS: {
    status: 500,
    retryable: false,
    summary: "The link's credentials lack the API token or a well-formed webhook secret.",
  },
  ERR_SECRETARIAT_UNSUPPORTED: {
    status: 422,
    retryable: false,
    summary:
      'This change cannot be written to the secretariat platform (kind or operation not in its contract).',
  },
  ERR_WEBHOOK_SIGNATURE: {
    status: 401,
    retryable: false,
    summary:
      'A webhook delivery has no valid signature (missing headers, or no signature matches a configured secret).',
  },
  ERR_WEBHOOK_TIMESTAMP: {
    status: 401,
    retryable: false,
    summary:
      "A webhook delivery's timestamp is outside the ±10 minute window (the sender's ±5 plus the instance's ±5; replay protection).",
  },
  ERR_WEBHOOK_PAYLOAD: {
    status: 400,
    retryable: false,
    summary: "A correctly signed webhook delivery does not carry a change in the contract's shape.",
  },

  // CLI
  ERR_CLI_USAGE: { status: 400, retryable: false, summary: 'A command-line argument is missing or invalid.' },

  // HL7 v2 codec (src/hl7). Details name segment / field / position, never values.
  ERR_HL7_PARSE: {
    status: 422,
    retryable: false,
    summary: 'An HL7 v2 message cannot be parsed; details name the segment and field at fault.',
  },
  ERR_HL7_CHARSET: {
    status: 422,
    retryable: false,
    summary:
      'An HL7 v2 character set (MSH-18 or the link default) is unsupported, or the bytes are not valid in it.',
  },
  ERR_HL7_PATH_INVALID: {
    status: 400,
    retryable: false,
    summary: 'An HL7 field path (SEG[n]-F[r].C.S) is malformed.',
  },
  ERR_HL7_BUILD: {
    status: 422,
    retryable: false,
    summary:
      'An outbound HL7 v2 message cannot be encoded (bad path, or a value its character set cannot carry).',
  },
  // HL7 v2 transport (connectors/hl7v2: MLLP, file drop, connector). Messages name ids and fields, never values.
  ERR_MLLP_FRAME: {
    status: 400,
    retryable: false,
    summary:
      'MLLP framing broken: bytes outside a <VT>…<FS><CR> block, or a block cut short by a new start block.',
  },
  ERR_MLLP_TOO_LARGE: {
    status: 413,
    retryable: false,
    summary:
      "An MLLP block is larger than the link's maxMessageBytes; it is answered AR and skipped, the connection stays open.",
  },
  ERR_MLLP_ACK_TIMEOUT: {
    status: 504,
    retryable: true,
    summary:
      'The HL7 peer did not acknowledge a sent message within ackTimeoutMs; the message is sent again later with the same MSH-10.',
  },
  ERR_MLLP_NEGATIVE_ACK: {
    status: 502,
    retryable: false,
    summary: 'The HL7 peer answered AE/CE (dead letter, with its ERR text) or AR/CR (retried with backoff).',
  },
  ERR_MLLP_CONNECTION: {
    status: 503,
    retryable: true,
    summary:
      'The MLLP connection to the HL7 peer could not be opened (refused, TLS handshake) or closed before the acknowledgment.',
  },
  ERR_MLLP_ACK_INVALID: {
    status: 502,
    retryable: true,
    summary: 'The HL7 peer answered something that is not an acknowledgment of the message sent.',
  },
  ERR_HL7_UNSUPPORTED_MESSAGE: {
    status: 422,
    retryable: false,
    summary:
      'The link does not take this HL7 message type, trigger event, version or processing id (answered AR).',
  },
  ERR_HL7_FIELD_INVALID: {
    status: 422,
    retryable: false,
    summary:
      'A field of an inbound HL7 message is missing or invalid for its mapping (answered AE; ERR-2 names the field).',
  },
  ERR_HL7_REUSED_CONTROL_ID: {
    status: 409,
    retryable: false,
    summary:
      'The same MSH-3, MSH-4 and MSH-10 came again with another body on a link set to reject reused control ids (answered AE, dead-lettered, replayable).',
  },
  ERR_FILEDROP_NO_MESSAGE: {
    status: 422,
    retryable: false,
    summary: 'A dropped file holds no HL7 message with a readable MSH (moved to error/ with a reason file).',
  },
  ERR_FILEDROP_IO: {
    status: 503,
    retryable: true,
    summary: 'A file-drop folder or file cannot be read, moved or written (permissions, disk full).',
  },

  // Sync engine (src/sync) and connectors as the engine sees them
  ERR_SYNC_SLOT_UNAVAILABLE: {
    status: 409,
    retryable: false,
    summary:
      'A secretariat booking falls on a slot the practice has blocked or already filled; it is refused back to the secretariat.',
  },
  ERR_SYNC_OUTSIDE_AGENDA_RULES: {
    status: 409,
    retryable: false,
    summary:
      "A secretariat booking does not fit the practitioner's agenda rules (opening hours, visit type, urgent-only slot, absence, holiday, daily cap, buffer); it is refused back to the secretariat with the reason in French.",
  },
  ERR_AGENDA_RULES_INVALID: {
    status: 400,
    retryable: false,
    summary: 'Agenda rules or coverage windows sent to the API are invalid; every issue is listed.',
  },
  ERR_SYNC_CONFLICT: {
    status: 409,
    retryable: false,
    summary: 'Both sides changed the same field differently; the change waits in the conflicts queue.',
  },
  ERR_SYNC_UNKNOWN_REFERENCE: {
    status: 422,
    retryable: false,
    summary:
      'A record refers to another record (Patient/…, Practitioner/…) that passerelle does not know on this link.',
  },
  ERR_SYNC_REVIEW_PENDING: {
    status: 409,
    retryable: true,
    summary:
      'The change depends on a patient waiting for a match review; it is delivered once the review is resolved.',
  },
  ERR_SYNC_NOT_RUNNING: {
    status: 503,
    retryable: true,
    summary: 'The sync runtime is stopping or the link is not running; retry later.',
  },
  ERR_SYNC_HELD_AFTER_FAILURE: {
    status: 503,
    retryable: true,
    summary:
      'A change before it to the same link just failed; it goes back to the queue untried and is sent in a later pass, urgent changes first.',
  },
  ERR_SYNC_LEASE_SHORT: {
    status: 503,
    retryable: true,
    summary:
      'The instance pushing a batch of changes reached this one too late to push it within its lease; it goes back to the queue untried, for any instance to send.',
  },
  ERR_CONNECTOR_UNKNOWN: {
    status: 500,
    retryable: false,
    summary: 'The link names a connector this build of passerelle does not have.',
  },
  ERR_CONNECTOR_CONFIG_INVALID: {
    status: 422,
    retryable: false,
    summary:
      'The link’s connector is unknown, its configuration does not match the connector’s schema, or its mapping profile is unknown or of another protocol: POST/PATCH /api/v1/links refuse it before storing anything (details.issues name each field); a link stored with one is not started.',
  },
  ERR_CONNECTOR_UNAVAILABLE: {
    status: 503,
    retryable: true,
    summary:
      'The peer (secretariat platform, practice software) cannot be reached or answered with a temporary failure.',
  },
  ERR_CONNECTOR_TIMEOUT: {
    status: 504,
    retryable: true,
    summary: 'The peer did not answer in time; the change is retried with the same idempotency key.',
  },
  ERR_CONNECTOR_REJECTED: {
    status: 422,
    retryable: false,
    summary: 'The peer refused the change for good (validation, permission); it goes to dead letters.',
  },

  // Mapping profiles (src/mapping). Issue codes name what is wrong in a profile; runtime codes name the rule, never a value.
  ERR_MAPPING_INVALID: {
    status: 422,
    retryable: false,
    summary:
      'A mapping profile is invalid; every issue is listed with file:line:column and its path in the profile.',
  },
  ERR_MAPPING_YAML: {
    status: 422,
    retryable: false,
    summary: 'A mapping profile is not well-formed YAML (or not a mapping of keys).',
  },
  ERR_MAPPING_UNKNOWN_KEY: {
    status: 422,
    retryable: false,
    summary: 'A mapping profile has a key the profile format does not define.',
  },
  ERR_MAPPING_SCHEMA: {
    status: 422,
    retryable: false,
    summary: 'A mapping profile value has the wrong type or is missing.',
  },
  ERR_MAPPING_UNKNOWN_FIELD: {
    status: 422,
    retryable: false,
    summary: 'A mapping rule names a canonical path, FHIR element or ownership field that does not exist.',
  },
  ERR_MAPPING_BAD_PATH: {
    status: 422,
    retryable: false,
    summary: 'A mapping rule has a malformed path (HL7 SEG[n]-F[r].C.S, element path, selector).',
  },
  ERR_MAPPING_PROTOCOL_MISMATCH: {
    status: 422,
    retryable: false,
    summary: "A mapping rule uses a path or section of another protocol than the profile's.",
  },
  ERR_MAPPING_UNKNOWN_TRANSFORM: {
    status: 422,
    retryable: false,
    summary: 'A mapping rule names a transform that does not exist, or gives it a bad argument.',
  },
  ERR_MAPPING_BAD_TIMEZONE: {
    status: 422,
    retryable: false,
    summary: 'A mapping profile names a time zone that is not an IANA zone.',
  },
  ERR_MAPPING_VALUE_MAP: {
    status: 422,
    retryable: false,
    summary:
      'A value map is unknown, lacks a default or explicit error for unmapped codes, or maps to a value the canonical element does not allow.',
  },
  ERR_MAPPING_DUPLICATE_RULE: {
    status: 422,
    retryable: false,
    summary: 'Two mapping rules write the same canonical path or protocol path in the same direction.',
  },
  ERR_MAPPING_TYPE: {
    status: 422,
    retryable: false,
    summary:
      'A mapping rule puts a value of the wrong type into a canonical element (text into a number, a list into a single value).',
  },
  ERR_MAPPING_UNKNOWN_CONSTANT: {
    status: 422,
    retryable: false,
    summary: 'A mapping profile refers to a $constant it does not define.',
  },
  ERR_MAPPING_MESSAGE_RULE: {
    status: 422,
    retryable: false,
    summary:
      'An HL7 message rule (trigger events, records produced, outbound events, segment order) is invalid.',
  },
  ERR_MAPPING_EXTENDS: {
    status: 422,
    retryable: false,
    summary:
      "A profile's extends names no shipped profile or readable file, forms a cycle, goes deeper than the limit, or its overrides name no inherited rule.",
  },
  ERR_MAPPING_UNMAPPED_CODE: {
    status: 422,
    retryable: false,
    summary:
      'A code has no entry in its value map: an error when the map says unmapped codes are, else a warning when the map default replaces it.',
  },
  ERR_MAPPING_UNSUPPORTED_MESSAGE: {
    status: 422,
    retryable: false,
    summary:
      'The profile accepts no such message (HL7 trigger event or FHIR resource type), or does not sync that kind in this direction.',
  },
  ERR_MAPPING_NO_OUTBOUND: {
    status: 422,
    retryable: false,
    summary:
      'The profile names no outbound message for this change (kind and event), or the change cannot be rendered.',
  },
  ERR_MAPPING_TRANSFORM: {
    status: 422,
    retryable: false,
    summary: 'A value cannot be transformed (date/time, phone number, number, reference) for the rule named.',
  },
  ERR_MAPPING_MISSING_ID: {
    status: 422,
    retryable: false,
    summary: "A message lacks the value the profile takes a record's id from.",
  },
  ERR_MAPPING_RECORD_INVALID: {
    status: 422,
    retryable: false,
    summary:
      'A record produced by the mapping breaks a canonical model rule (issues name the canonical paths).',
  },
  // Supervision reports (src/reports): the daily digest's webhook to a practice.
  ERR_REPORTS_WEBHOOK_CONFIG: {
    status: 422,
    retryable: false,
    summary:
      "A practice's settings.digestWebhook is malformed (url not http(s), secret not whsec_…); its digests wait until it is fixed.",
  },
  ERR_REPORTS_WEBHOOK_FAILED: {
    status: 502,
    retryable: true,
    summary:
      "A practice's digest webhook did not answer 2xx after every attempt of a run; the next run tries again.",
  },
  ERR_LINK_TEST_UNSUPPORTED: {
    status: 409,
    retryable: false,
    summary:
      'POST /api/v1/links/:id/test on a link whose connector has no link test (GET /api/v1/connectors says which have one).',
  },
  ERR_URGENT_CONFIG: {
    status: 422,
    retryable: false,
    summary:
      "A practice's settings.urgentAck is malformed (delays out of range, gateway URL not https outside loopback, secret not whsec_…).",
  },
  ERR_URGENT_LINK_INVALID: {
    status: 403,
    retryable: false,
    summary:
      'An urgent-message acknowledgement link that was altered, has expired, or was already used; the practice acknowledges in the console instead.',
  },
  ERR_URGENT_STEP_FAILED: {
    status: 502,
    retryable: true,
    summary:
      "An escalation step of an urgent message failed (the practice's gateway or the secretariat did not take it); recorded in the message's timeline and tried again.",
  },
  ERR_REMINDERS_CONFIG: {
    status: 422,
    retryable: false,
    summary:
      "A practice's stored settings.reminders no longer parse (lead time or recall rule out of range); its daily reminder pass is skipped until they are fixed.",
  },
  ERR_REMINDER_HANDOFF_FAILED: {
    status: 502,
    retryable: true,
    summary:
      "The secretariat platform did not take the day's reminders and recalls (unreachable, refused, or no running secretariat link); they stay selected and are handed at the next check.",
  },
  ERR_REMINDER_WRITEBACK_FAILED: {
    status: 502,
    retryable: true,
    summary:
      "A reminder's outcome could not be written back to the practice software; it stays in the report and is tried again at the next check.",
  },
} as const satisfies Record<string, { status: number; retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Where in an input a problem lies: a config key, a profile path, an HL7 field, a JSON pointer. */
export interface ErrorIssue {
  readonly path: string;
  readonly message: string;
  readonly severity?: 'error' | 'warning';
  readonly code?: string;
  /** `file:line:column` when the input came from a file. */
  readonly location?: string;
}

export interface PasserelleErrorOptions {
  readonly details?: Readonly<Record<string, unknown>>;
  readonly issues?: readonly ErrorIssue[];
  readonly cause?: unknown;
  /** Overrides the catalogue, e.g. a remote 503 is retryable though its code usually is not. */
  readonly retryable?: boolean;
  /** Seconds a caller should wait (from a peer's Retry-After, or our own rate limiter). */
  readonly retryAfterSeconds?: number;
}

export class PasserelleError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;
  readonly issues: readonly ErrorIssue[];
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: PasserelleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PasserelleError';
    this.code = code;
    const entry = ERROR_CATALOGUE[code];
    this.status = entry.status;
    this.retryable = options.retryable ?? entry.retryable;
    this.details = options.details ?? {};
    this.issues = options.issues ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The body the HTTP API sends: code, message, details, never a stack. */
  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    const details: Record<string, unknown> = { ...this.details };
    if (this.issues.length > 0) details['issues'] = this.issues;
    return { code: this.code, message: this.message, details };
  }
}

export function isPasserelleError(e: unknown): e is PasserelleError {
  return e instanceof PasserelleError;
}

/** Formats issues one per line, the way the CLI and start-up print them. */
export function formatIssues(issues: readonly ErrorIssue[]): string {
  return issues.map((i) => `${i.location ? `${i.location} ` : ''}${i.path}: ${i.message}`).join('\n');
}
