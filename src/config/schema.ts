import cron from 'node-cron';
import { z } from 'zod';

/**
 * Every key of passerelle.yaml. `config/passerelle.example.yaml` documents each one and a
 * test checks that the example parses and names every leaf key of this schema.
 * Each key can be overridden by an environment variable named from its path
 * (`store.sqlite.path` → `PASSERELLE_STORE_SQLITE_PATH`), and secrets by `<NAME>_FILE`.
 */

const cronExpression = z.string().refine((s) => cron.validate(s), { error: 'not a valid cron expression' });
const ianaZone = z.string().refine(
  (z) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: z });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'not an IANA time zone (e.g. Europe/Paris)' },
);

export const HttpConfig = z.strictObject({
  /** Interface to listen on; 0.0.0.0 to accept connections from other hosts (behind a proxy). */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  /** Base URL as clients see it (used in printed iCal URLs); defaults to http://host:port. */
  publicUrl: z.url().optional(),
  /** Trust X-Forwarded-* from a reverse proxy (rate limits then use the client's address). */
  trustProxy: z.boolean().default(false),
  /** Log one JSON line per request (route pattern only: tokens never appear). */
  accessLog: z.boolean().default(true),
  /**
   * Failed admin-API authentications per client address: past `maxFailures` within
   * `windowSeconds`, that address gets 429 with Retry-After until the window ends.
   */
  authThrottle: z
    .strictObject({
      maxFailures: z.number().int().min(1).max(100_000).default(10),
      windowSeconds: z.number().int().min(1).max(86_400).default(60),
    })
    .prefault({}),
  /**
   * Serve HTTPS with these PEM files (both or neither); read again on SIGHUP. HSTS is sent
   * when on. Without it, put a TLS-terminating reverse proxy in front.
   */
  tls: z
    .strictObject({
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
    })
    .optional(),
});

export const StoreConfig = z.strictObject({
  driver: z.enum(['sqlite', 'postgres']).default('sqlite'),
  sqlite: z.strictObject({ path: z.string().min(1).default('./data/passerelle.db') }).prefault({}),
  postgres: z
    .strictObject({
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, { error: 'not a postgres:// URL' })
        .optional(),
      poolSize: z.number().int().min(1).max(200).default(10),
    })
    .prefault({}),
});

export const LogConfig = z.strictObject({
  level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
});

export const SecurityConfig = z.strictObject({
  /**
   * Base64 of 32 random bytes; encrypts connector credentials at rest. When unset with the
   * SQLite store, a key file is created next to the database on first start.
   */
  encryptionKey: z.string().optional(),
  /**
   * Keys in use before the current one, comma-separated base64: what they sealed stays readable
   * until `passerelle key rotate` has re-sealed it under encryptionKey; then remove them.
   */
  previousEncryptionKeys: z.string().optional(),
  /** Print a new admin API key at start-up when none exists. */
  bootstrapAdminKey: z.boolean().default(true),
});

/**
 * How long each class of data is kept (docs/security.md says why these defaults).
 * The purge job (src/privacy/retention.ts) removes what is older and reports counts per class.
 */
export const RetentionConfig = z.strictObject({
  /** Days message bodies (HL7, webhook payloads) are kept in the inbox before being purged. */
  messageBodiesDays: z.number().int().min(1).max(3650).default(30),
  /** Days a delivered outbox row (its payload: what was sent to a peer) is kept after delivery. */
  outboundPayloadDays: z.number().int().min(1).max(3650).default(30),
  /** Days a replayed or discarded dead letter (and its payload) is kept after it was resolved; open ones stay. */
  deadLetterDays: z.number().int().min(1).max(3650).default(90),
  /** Days a resolved review item or conflict (with the values compared) is kept after it was closed; open ones stay. */
  reviewDays: z.number().int().min(1).max(3650).default(90),
  /** Days supervision events (ids and counts, for activity reports) are kept; daily digests stay. */
  activityDays: z.number().int().min(30).max(3650).default(400),
  /**
   * Days audit events are kept (6 years by default). Only the oldest events go, as a whole
   * prefix of the chain, and the hash of the last one removed stays as the anchor verification starts from.
   */
  auditDays: z.number().int().min(365).max(36_500).default(2192),
  /** When the purge job runs (node-cron, server time zone). */
  purgeSchedule: cronExpression.default('17 3 * * *'),
});

/** The keyed audit chain and its checkpoints outside the store (docs/security.md). */
export const AuditConfig = z.strictObject({
  /**
   * Base64 of 32 random bytes: the HMAC key of the audit chain and of its checkpoints. Keep it
   * away from the store and its backups; required with postgres (instances share the chain).
   */
  key: z.string().optional(),
  /**
   * Where the key is read from when `key` is unset; with sqlite it is created there on first
   * start (0600). Default: audit.key beside the database. (Not `keyFile`: PASSERELLE_AUDIT_KEY_FILE
   * already means "read audit.key from this file".)
   */
  keyPath: z.string().min(1).optional(),
  checkpoint: z
    .strictObject({
      /** Append-only file of signed checkpoints (0600). Default: audit-checkpoints.jsonl beside the database. */
      file: z.string().min(1).optional(),
      /** A checkpoint once the chain has grown by this many events… */
      everyEvents: z.number().int().min(1).max(1_000_000).default(1000),
      /** …or this many minutes after the last one if the chain grew at all; and one at every start and stop. */
      everyMinutes: z.number().int().min(1).max(1440).default(15),
      /** How often the chain head is looked at for the two rules above. */
      checkSeconds: z.number().int().min(1).max(3600).default(10),
      /** Also POST each checkpoint (JSON) to this URL, e.g. a log collector on another host. */
      webhookUrl: z.url().optional(),
      webhookTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    })
    .prefault({}),
});
export type AuditConfig = z.infer<typeof AuditConfig>;

/** iCal feeds (docs/ical.md). */
export const IcalConfig = z.strictObject({
  /** Days before today (in the practice's zone) whose events a feed still lists. */
  windowPastDays: z.number().int().min(0).max(366).default(30),
  /** Days after today a feed lists. */
  windowFutureDays: z.number().int().min(1).max(730).default(180),
  /** Days a cancelled appointment stays in feeds as STATUS:CANCELLED after it was cancelled. */
  cancelledRetentionDays: z.number().int().min(0).max(366).default(7),
  /** Polling interval suggested to calendar apps (REFRESH-INTERVAL, X-PUBLISHED-TTL). */
  refreshMinutes: z.number().int().min(1).max(1440).default(15),
  /** Most events one feed carries; past this, the farthest from today are left out. */
  maxEvents: z.number().int().min(1).max(100_000).default(10_000),
  /** Rendered events kept in memory (text per record version and privacy level). */
  eventCacheEntries: z.number().int().min(0).max(1_000_000).default(50_000),
  /** Megabytes of whole rendered feeds kept in memory (0 disables), for apps that never send If-None-Match. */
  bodyCacheMb: z.number().int().min(0).max(4096).default(32),
  /** Requests per minute one feed URL may make (calendar apps poll every few minutes at most). */
  rateLimitPerToken: z.number().int().min(1).max(1_000_000).default(20),
  /** Requests per minute one client address may make to /ical/ URLs, known or not (guessing). */
  rateLimitPerClient: z.number().int().min(1).max(1_000_000).default(120),
});

const Percent = z.number().min(0).max(100);
/** Waits the secretariat platform counts answered calls under (its GET /call-statistics). */
export const CALL_WAIT_SECONDS = [15, 30, 60, 120, 300] as const;

/**
 * What the practice's contract with the secretariat promises about calls (issue 21 point 4):
 * each threshold set is checked per day and over a review's period, and flagged when missed.
 * Percentages are of the calls received. Set service-wide in `reports.callThresholds`; a
 * practice's `settings.callThresholds` replaces them as a whole.
 */
export const CallThresholds = z.strictObject({
  /** "90 % answered within 60 s": answered within `seconds` (15, 30, 60, 120 or 300) ≥ `minPercent` of received. */
  answeredWithin: z
    .strictObject({
      seconds: z.number().refine((n) => (CALL_WAIT_SECONDS as readonly number[]).includes(n), {
        error: `must be one of ${CALL_WAIT_SECONDS.join(', ')} (the waits the platform counts under)`,
      }),
      minPercent: Percent,
    })
    .optional(),
  /** Answered ≥ this % of received. */
  minAnsweredPercent: Percent.optional(),
  /** Abandoned ≤ this % of received. */
  maxAbandonedPercent: Percent.optional(),
  /** 95th percentile of the waiting time ≤ this many seconds. */
  maxWaitP95Seconds: z.number().int().min(1).max(3600).optional(),
  /** Average satisfaction score (1 to 5) ≥ this, where the platform surveys callers. */
  minSatisfaction: z.number().min(1).max(5).optional(),
});
export type CallThresholds = z.infer<typeof CallThresholds>;

/** Supervision reports and the daily digest (docs/reports.md). */
export const ReportsConfig = z.strictObject({
  /** When the daily digest of yesterday runs, read in each practice's own time zone (node-cron). */
  digestSchedule: cronExpression.default('5 6 * * *'),
  /** Past days a digest run also fills in when their digest is missing (after downtime). */
  catchUpDays: z.number().int().min(1).max(31).default(3),
  /** Longest period one activity report may cover. */
  maxRangeDays: z.number().int().min(1).max(3660).default(366),
  /** Days a digest whose webhook failed is posted again at each run. */
  webhookRetryDays: z.number().int().min(1).max(90).default(7),
  /** One webhook POST waits this long for an answer. */
  webhookTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** POSTs per digest and run, the first included. */
  webhookAttempts: z.number().int().min(1).max(10).default(3),
  /** Wait before the second POST; doubled before each further one. */
  webhookBackoffMs: z.number().int().min(0).max(300_000).default(2_000),
  /** The call KPI thresholds of practices whose settings name none (docs/reports.md § Call KPIs). */
  callThresholds: CallThresholds.default({}),
  /** Reviews (week, month) also POSTed, once complete, to each practice's digest webhook; none by default. */
  reviewWebhook: z.array(z.enum(['week', 'month'])).default([]),
});
export type ReportsConfig = z.infer<typeof ReportsConfig>;

/** How the outbox dispatcher retries pushes to a link's peer (docs/sync.md). */
export const SyncConfig = z.strictObject({
  /** Attempts before a change goes to dead letters (an operator can replay it). */
  maxAttempts: z.number().int().min(1).max(100).default(10),
  /** Wait before the second attempt; doubled before each further one, with full jitter. */
  retryBaseMs: z.number().int().min(10).max(3_600_000).default(1_000),
  /** Longest wait between attempts. */
  retryCapMs: z.number().int().min(10).max(86_400_000).default(600_000),
  /** A push not answered within this is a timeout (retried with the same idempotency key). */
  pushTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /**
   * How long a dispatcher holds an outbox row it is pushing; an instance that died (SIGKILL)
   * leaves its rows to the others once this runs out, on the database's clock. Longer than
   * pushTimeoutMs, so a push still waiting for its answer is never sent again by another instance.
   */
  outboxLeaseMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
  /**
   * Longest wait between attempts to start a link that failed to (its MLLP port held by
   * another instance, a peer down at start): the bound on taking a freed port over.
   */
  linkRestartCapMs: z.number().int().min(10).max(3_600_000).default(30_000),
  /**
   * Added to every listen port a link names (MLLP): several instances on one host each bind
   * their own port, behind a TCP balancer (docs/cluster.md). 0 on separate hosts or pods.
   */
  listenPortOffset: z.number().int().min(0).max(60_000).default(0),
  /**
   * Several instances on one PostgreSQL: how long the instance running a link's scheduled polls
   * holds it without renewing (renewed every third of it). A dead or cut-off instance's links
   * are taken over within about 4/3 of this (docs/cluster.md). Unused on SQLite.
   */
  leaseTtlMs: z.number().int().min(300).max(600_000).default(15_000),
  /**
   * How many days ahead passerelle publishes a practitioner's free slots to the secretariat
   * platform (issue 20; practitioners with agenda rules only) and the practice's coverage windows.
   */
  agendaHorizonDays: z.number().int().min(1).max(92).default(28),
  /** Changes within this wait are published together (one publication per practitioner). */
  agendaDebounceMs: z.number().int().min(0).max(600_000).default(2_000),
});
export type SyncConfig = z.infer<typeof SyncConfig>;

/**
 * Reminders and recalls (docs/reminders.md). The rules themselves are per practice
 * (`settings.reminders`, checked by PracticeReminderSettings below when the practice is
 * written); this is when the service looks for practices whose daily pass is due.
 */
export const RemindersConfig = z.strictObject({
  /**
   * How often (node-cron, server zone) the job looks for practices whose local send time has
   * come and whose pass of the day has not run, and collects the platform's outcomes.
   */
  checkSchedule: cronExpression.default('*/10 * * * *'),
});
export type RemindersConfig = z.infer<typeof RemindersConfig>;

const leadDays = z
  .number({ error: 'must be a number of days (0: the same day, 1: the day before…)' })
  .int({ error: 'must be a whole number of days' })
  .min(0, { error: 'must be 0 (the same day) or more' })
  .max(30, { error: 'must be at most 30 days' });
const visitTypeCode = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not a visit-type code' });

/**
 * A practice's reminder and recall rules (`settings.reminders`, issue 21 point 3): validated as
 * a whole when the practice is written (every problem reported with its path), applied by the
 * next daily pass. Visit types are the codes of the practice's catalogue (appointmentTypes of
 * its mapping profile, e.g. CONS, ECHO).
 */
export const PracticeReminderSettings = z
  .strictObject({
    /** Off by default: a practice turns reminders on once its consent collection is in place. */
    enabled: z.boolean().default(false),
    /** Local time (practice zone) from which the day's pass runs, HH:MM. */
    sendAt: z
      .string()
      .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { error: 'not a time (HH:MM, e.g. 09:00)' })
      .default('09:00'),
    /** Days before the appointment for visit types not listed; null: only listed types are reminded. */
    defaultLeadDays: leadDays.nullable().default(1),
    /** Per visit-type code: its lead time (null: never reminded) and its recall rule. */
    visitTypes: z
      .record(
        visitTypeCode,
        z.strictObject({
          leadDays: leadDays.nullable().optional(),
          /** Recall the patient this many months after a visit of this type, unless another is booked. */
          recallAfterMonths: z
            .number()
            .int({ error: 'must be a whole number of months' })
            .min(1, { error: 'must be at least 1 month' })
            .max(120, { error: 'must be at most 120 months' })
            .optional(),
        }),
      )
      .default({}),
    /** Recall patients whose recall date the practice software publishes (Patient extension recall-due). */
    recallsFromPracticeSoftware: z.boolean().default(true),
    /**
     * Count a patient without any consent flag from the practice software as consenting: only
     * for a practice that collects consent for every patient outside its software. Off: no
     * consent recorded, no reminder.
     */
    assumeConsent: z.boolean().default(false),
    /** Write each outcome back to the practice software where its connector can (FHIR: a Communication). */
    writeBack: z.boolean().default(true),
  })
  .superRefine((s, ctx) => {
    if (s.enabled && s.defaultLeadDays === null) {
      const any = Object.values(s.visitTypes).some(
        (v) => (v.leadDays !== undefined && v.leadDays !== null) || v.recallAfterMonths !== undefined,
      );
      if (!any && !s.recallsFromPracticeSoftware)
        ctx.addIssue({
          code: 'custom',
          path: ['defaultLeadDays'],
          message:
            'with defaultLeadDays null, no visit type with leadDays or recallAfterMonths and recallsFromPracticeSoftware false, nothing would ever be reminded',
        });
    }
  });
export type PracticeReminderSettings = z.infer<typeof PracticeReminderSettings>;

const CONSOLE_ROLES = ['admin', 'integrator', 'viewer'] as const;

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Sign-in to the console with OpenID Connect (docs/security.md § The console's sessions):
 * authorization code + PKCE, roles and practice read from the user's claims.
 */
export const ConsoleOidcConfig = z
  .strictObject({
    /** The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`). */
    issuer: z.url(),
    clientId: z.string().min(1),
    /** A confidential client's secret; none for a public client (PKCE only). */
    clientSecret: z.string().min(1).optional(),
    /** Defaults to `<http.publicUrl>/console/auth/oidc/callback`. */
    redirectUri: z.url().optional(),
    /** Space-separated scopes asked for; must include `openid`. */
    scopes: z
      .string()
      .default('openid profile email')
      .refine((s) => s.split(/\s+/).includes('openid'), { error: 'must include openid' }),
    /** The sign-in button's text on the console's sign-in page ("Pro Santé Connect"). */
    label: z.string().min(1).max(80).default('OpenID Connect'),
    /** The claim (ID token or userinfo) holding the user's role(s): a string or a list of strings. */
    roleClaim: z.string().min(1).default('roles'),
    /** Claim value → passerelle role; with several mapped values the highest role wins. */
    roleMap: z.record(z.string(), z.enum(CONSOLE_ROLES)).default({}),
    /** Role of a user whose claim maps to none; unset: such a user is refused. */
    defaultRole: z.enum(CONSOLE_ROLES).optional(),
    /** The claim holding the practice id the user is limited to. Unset: no user is limited. */
    practiceClaim: z.string().min(1).optional(),
    /** With practiceClaim set: roles that may sign in without the claim (then unrestricted). */
    unrestrictedRoles: z.array(z.enum(CONSOLE_ROLES)).default(['admin']),
    /** Accept an http:// issuer on a loopback address (tests and local demos only). */
    allowInsecureIssuer: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    const url = new URL(c.issuer);
    if (url.protocol === 'https:') return;
    if (!(c.allowInsecureIssuer && url.protocol === 'http:' && isLoopbackHost(url.hostname)))
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'must be https (http only on a loopback address, with allowInsecureIssuer: true)',
      });
  });
export type ConsoleOidcConfig = z.infer<typeof ConsoleOidcConfig>;

/** The web console at /console: its sessions and its optional OpenID Connect sign-in. */
export const ConsoleConfig = z.strictObject({
  /** A console session unused for this long ends (the user signs in again). */
  sessionIdleMinutes: z.number().int().min(1).max(1440).default(30),
  /** A console session ends this long after sign-in, however active. */
  sessionMaxHours: z.number().int().min(1).max(720).default(12),
  oidc: ConsoleOidcConfig.optional(),
});
export type ConsoleConfig = z.infer<typeof ConsoleConfig>;

export const Config = z
  .strictObject({
    http: HttpConfig.prefault({}),
    store: StoreConfig.prefault({}),
    log: LogConfig.prefault({}),
    security: SecurityConfig.prefault({}),
    retention: RetentionConfig.prefault({}),
    ical: IcalConfig.prefault({}),
    reports: ReportsConfig.prefault({}),
    sync: SyncConfig.prefault({}),
    audit: AuditConfig.prefault({}),
    console: ConsoleConfig.prefault({}),
    reminders: RemindersConfig.prefault({}),
    /** Zone used when a practice has none: Europe/Paris, or an overseas zone. */
    defaultTimezone: ianaZone.default('Europe/Paris'),
  })
  .superRefine((c, ctx) => {
    if (c.sync.outboxLeaseMs <= c.sync.pushTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['sync', 'outboxLeaseMs'],
        message: 'must be above sync.pushTimeoutMs',
      });
    }
    if (c.sync.retryCapMs < c.sync.retryBaseMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['sync', 'retryCapMs'],
        message: 'must not be below sync.retryBaseMs',
      });
    }
    if (c.store.driver === 'postgres' && !c.store.postgres.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['store', 'postgres', 'url'],
        message: 'is required when store.driver is postgres',
      });
    }
    if (
      c.security.encryptionKey !== undefined &&
      Buffer.from(c.security.encryptionKey, 'base64').length !== 32
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['security', 'encryptionKey'],
        message: 'must be base64 of 32 bytes (openssl rand -base64 32)',
      });
    }
    if (c.audit.key !== undefined && Buffer.from(c.audit.key, 'base64').length !== 32) {
      ctx.addIssue({
        code: 'custom',
        path: ['audit', 'key'],
        message: 'must be base64 of 32 bytes (openssl rand -base64 32)',
      });
    }
    if (c.store.driver === 'postgres' && c.audit.key === undefined && c.audit.keyPath === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['audit', 'key'],
        message:
          'is required (or audit.keyPath) when store.driver is postgres: instances must share one audit key',
      });
    }
    for (const k of previousKeys(c.security.previousEncryptionKeys)) {
      if (Buffer.from(k, 'base64').length !== 32) {
        ctx.addIssue({
          code: 'custom',
          path: ['security', 'previousEncryptionKeys'],
          message: 'must be base64 keys of 32 bytes, separated by commas',
        });
        break;
      }
    }
  });

export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;

/** Keys holding secrets: accepted from `<ENV>_FILE` and never printed. */
export const SECRET_PATHS: readonly string[] = [
  'security.encryptionKey',
  'security.previousEncryptionKeys',
  'store.postgres.url',
  'audit.key',
  'console.oidc.clientSecret',
];

/** security.previousEncryptionKeys as a list. */
export function previousKeys(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
}
