/*
 * The `passerelle` command: `main(argv, io)` runs one command line and resolves with its exit
 * code (index.ts is the process entry). Human-facing output goes to `io` here (and only here),
 * so the tests run commands in-process, without a cold process each (issue 19).
 */
import { Command, CommanderError, Option } from 'commander';

import { defaultConnectorRegistry } from '../app/connectors.js';
import { rotateKeys } from '../app/key-rotation.js';
import { defaultModules } from '../app/modules.js';
import { auditCheckpointFile, openAuditKey, openConfiguredStore, openSecretBox } from '../app/open-store.js';
import { startService } from '../app/service.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { formatIssues, isPasserelleError, PasserelleError } from '../errors.js';
import { feedUrl } from '../ical/feed-token.js';
import {
  createFeedToken,
  type FeedTokenActor,
  feedTokenStatus,
  revokeFeedToken,
  rotateFeedToken,
} from '../ical/tokens.js';
import { createLogger } from '../log/logger.js';
import { createApiKey } from '../security/api-keys.js';
import { AuditCheckpointer, verifyAuditTrail } from '../security/audit-checkpoints.js';
import type { PractitionerMapping } from '../store/index.js';
import { API_ROLES, type ApiRole, type JsonObject } from '../store/types.js';
import { ICAL_PRIVACY, type IcalPrivacy } from '../store/types.js';
import type { PractitionerMappingDecision } from '../sync/operator.js';
import { VERSION } from '../util/version.js';

/** Where a run's output goes, and the environment its configuration is read from. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}
const processIo = (): CliIo => ({
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
});
/** The io of the run in progress (one run at a time in a process). */
let io: CliIo = processIo();
const out = (line: string) => io.stdout(`${line}\n`);
/** Ends the run with this exit code (after `finally` blocks have closed what they opened). */
class CliExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
/** loadConfig with the run's environment. */
const configOf = (file: string | undefined) =>
  loadConfig({ ...(file !== undefined && { file }), env: io.env });
/** The connectors this build ships: `link test` and `simulate` offer what each one has. */
const connectors = defaultConnectorRegistry();

/** One-line reason on stderr (plus the list of issues when there are several); the exit code. */
function fail(e: unknown): number {
  if (e instanceof CliExit) return e.exitCode;
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  if (isPasserelleError(e)) {
    io.stderr(`passerelle: ${e.message}\n`);
    if (e.issues.length > 1) io.stderr(`${formatIssues(e.issues).replace(/^/gm, '  ')}\n`);
    return e.code === 'ERR_CLI_USAGE' ? 2 : 1;
  }
  io.stderr(`passerelle: ${(e as Error)?.message ?? String(e)}\n`);
  return 1;
}

async function withStore<T>(
  configFile: string | undefined,
  fn: (store: Awaited<ReturnType<typeof openConfiguredStore>>, config: Config) => Promise<T>,
  options: { createAuditKey?: boolean } = {},
): Promise<T> {
  const { config } = configOf(configFile);
  const store = await openConfiguredStore(config, {
    auditKey: openAuditKey(config, { create: options.createAuditKey ?? true }).key,
  });
  try {
    const status = await store.migrationStatus();
    if (!status.current)
      throw new PasserelleError(
        'ERR_STORE_MIGRATIONS_PENDING',
        `the store needs migrating first: run passerelle migrate (pending: ${status.pending.join(', ')})`,
      );
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

const program = new Command()
  .name('passerelle')
  .description(
    'Two-way sync between practice software (FHIR R4, HL7 v2) and the secretariat platform, with iCal feeds.',
  )
  .version(VERSION)
  .exitOverride()
  .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
  .showHelpAfterError('(run with --help for usage)');
const configOption = () =>
  new Option('-c, --config <file>', 'config file (default: $PASSERELLE_CONFIG or ./passerelle.yaml)');

program
  .command('serve')
  .description('run the service: admin API, webhooks, iCal feeds, connectors and schedules')
  .addOption(configOption())
  .option(
    '--demo',
    'demo mode: two fictitious practices (FHIR and HL7 v2), their simulated software and secretariat, and live traffic (docs/demo.md)',
  )
  .option(
    '--demo-dir <dir>',
    'where the demo keeps its store and state (default: $PASSERELLE_DEMO_DIR or ./data/demo)',
  )
  .action(async (opts: { config?: string; demo?: boolean; demoDir?: string }) => {
    const { config, file } = configOf(opts.config);
    if (opts.demo) {
      const { DEFAULT_DEMO_DIR, startDemo } = await import('../demo/index.js');
      const demo = startDemo({
        config,
        dir: opts.demoDir ?? io.env['PASSERELLE_DEMO_DIR'] ?? DEFAULT_DEMO_DIR,
        print: out,
      });
      // Listening before the banner is printed: a Ctrl-C right after it still stops cleanly.
      stopOnSignals(
        async () => (await demo).stop(),
        () => out('arrêt de la démonstration…'),
      );
      await demo;
      return;
    }
    if (opts.demoDir !== undefined) throw new PasserelleError('ERR_CLI_USAGE', '--demo-dir goes with --demo');
    const logger = createLogger({ level: config.log.level });
    const service = await startService({ config, logger, modules: defaultModules() });
    out(
      `passerelle ${VERSION} listening on ${service.url} (store: ${service.store.dialect}${file ? `, config: ${file}` : ''})`,
    );
    out(`  console: ${service.url}/console/   (sign in with an admin API key)`);
    out(
      `  health:  ${service.url}/healthz    metrics: ${service.url}/metrics    API: ${service.url}/api/v1/openapi.json`,
    );
    if (service.bootstrapKey) {
      out(`  first admin API key (shown once, store it now): ${service.bootstrapKey}`);
      out(`  try: curl -H "Authorization: Bearer ${service.bootstrapKey}" ${service.url}/api/v1/practices`);
    }
    // SIGHUP: serve renewed http.tls certificate files without a restart (a no-op without TLS).
    process.on('SIGHUP', () => void service.reloadTls());
    stopOnSignals(
      () => service.stop(),
      (signal) => logger.info('shutting down', { signal }),
    );
  });

/** SIGTERM / SIGINT (Ctrl-C) stop once, cleanly: exit 0 when everything stopped, else 1. */
function stopOnSignals(stop: () => Promise<void>, announce: (signal: string) => void): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    announce(signal);
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

program
  .command('migrate')
  .description('apply pending store migrations (serve also does this at start)')
  .addOption(configOption())
  .action(async (opts: { config?: string }) => {
    const { config } = configOf(opts.config);
    const store = await openConfiguredStore(config);
    try {
      const applied = await store.migrate();
      out(
        applied.length > 0
          ? `applied ${applied.length} migration(s): ${applied.join(', ')}`
          : 'store schema already current',
      );
    } finally {
      await store.close();
    }
  });

const apikey = program.command('apikey').description('manage admin API keys');
apikey
  .command('create')
  .description('create an API key and print it once')
  .addOption(
    new Option('--role <role>', 'admin, integrator or viewer').choices(API_ROLES).makeOptionMandatory(),
  )
  .option('--label <label>', 'what the key is for')
  .option('--practice <id>', 'limit the key to one practice')
  .addOption(configOption())
  .action(async (opts: { role: ApiRole; label?: string; practice?: string; config?: string }) => {
    await withStore(opts.config, async (store) => {
      if (opts.practice) await store.practices.require(opts.practice);
      const { key, record } = await createApiKey(store, {
        role: opts.role,
        label: opts.label ?? null,
        practiceId: opts.practice ?? null,
        createdBy: 'cli',
        via: 'cli',
      });
      out(key);
      io.stderr(`created ${record.role} key ${record.id} (${record.prefix}…); it is shown once\n`);
    });
  });
apikey
  .command('list')
  .description('list active API keys (never the keys themselves)')
  .addOption(configOption())
  .action(async (opts: { config?: string }) => {
    await withStore(opts.config, async (store) => {
      for (const k of await store.apiKeys.list())
        out(
          `${k.id}  ${k.role.padEnd(10)} ${k.prefix}…  ${k.label ?? ''}  last used ${k.lastUsedAt ?? 'never'}`,
        );
    });
  });
apikey
  .command('revoke <id>')
  .description('revoke an API key at once')
  .addOption(configOption())
  .action(async (id: string, opts: { config?: string }) => {
    await withStore(opts.config, async (store) => {
      await store.apiKeys.revoke(id);
      await store.audit.append({
        actor: 'cli',
        action: 'apikey.revoke',
        resourceType: 'ApiKey',
        resourceId: id,
        outcome: 'success',
        via: 'cli',
      });
      out(`revoked ${id}`);
    });
  });

const key = program.command('key').description('the encryption key of credentials and patient data at rest');
key
  .command('rotate')
  .description(
    're-seal everything under security.encryptionKey; keep security.previousEncryptionKeys until it reports complete (resumable)',
  )
  .option('--batch-size <n>', 'rows per committed batch', '500')
  .option('--max-batches <n>', 'stop after this many batches; run again to resume')
  .addOption(configOption())
  .action(async (opts: { batchSize: string; maxBatches?: string; config?: string }) => {
    const count = (name: string, raw: string) => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1)
        throw new PasserelleError('ERR_CLI_USAGE', `--${name} must be a positive integer, not ${raw}`);
      return n;
    };
    const batchSize = count('batch-size', opts.batchSize);
    const maxBatches = opts.maxBatches === undefined ? undefined : count('max-batches', opts.maxBatches);
    const { config } = configOf(opts.config);
    const { box } = openSecretBox(config);
    const store = await openConfiguredStore(config, { keyring: box.keyring });
    try {
      const status = await store.migrationStatus();
      if (!status.current)
        throw new PasserelleError(
          'ERR_STORE_MIGRATIONS_PENDING',
          `the store needs migrating first: run passerelle migrate (pending: ${status.pending.join(', ')})`,
        );
      // Progress on stderr, one line per committed batch: what a run killed at any point had done.
      const onBatch = (b: { table: string; scanned: number; resealed: number }) =>
        io.stderr(`batch committed: ${b.table} ${b.resealed}/${b.scanned} row(s) re-sealed\n`);
      const report = await rotateKeys(store, box, {
        batchSize,
        onBatch,
        ...(maxBatches !== undefined && { maxBatches }),
      });
      const rows = Object.entries(report.resealed)
        .map(([table, n]) => `${table} ${n}`)
        .join(', ');
      out(
        `key ${report.keyId}: re-sealed ${report.secrets} secret(s); rows: ${rows || 'none'} (${report.batches} batch(es))`,
      );
      out(
        report.complete
          ? 'complete: nothing is sealed under another key; security.previousEncryptionKeys can be removed'
          : 'stopped before the end: run passerelle key rotate again to resume',
      );
    } finally {
      await store.close();
    }
  });

// iCal feed tokens. The CLI opens the store directly, so it acts as an admin (it may create
// `full` feeds); every change is audited with actor `cli`.
const CLI_ACTOR: FeedTokenActor = { id: 'cli', role: 'cli', via: 'cli' };
const baseUrlOf = (config: Config) =>
  config.http.publicUrl ??
  `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${config.http.port}`;
const icalToken = program
  .command('ical')
  .description('iCal feeds')
  .command('token')
  .description('manage iCal feed URLs (tokens)');
icalToken
  .command('create')
  .description('create a feed and print its URL once (the URL is the secret)')
  .requiredOption('--practice <id>', 'practice id')
  .option('--practitioner <id>', 'canonical Practitioner id (omit for a practice-wide feed)')
  .addOption(
    new Option('--privacy <level>', 'busy (no patient data), initials or full')
      .choices(ICAL_PRIVACY)
      .default('busy'),
  )
  .option('--label <label>', 'what the feed is for, e.g. "iPhone Dr Martin"')
  .option('--expires <date-time>', 'stop working at this ISO date-time')
  .option('--expire-unused-days <n>', 'stop working after this many days without a fetch')
  .addOption(configOption())
  .action(
    async (opts: {
      practice: string;
      practitioner?: string;
      privacy: IcalPrivacy;
      label?: string;
      expires?: string;
      expireUnusedDays?: string;
      config?: string;
    }) => {
      const unused = opts.expireUnusedDays === undefined ? null : Number(opts.expireUnusedDays);
      if (unused !== null && (!Number.isInteger(unused) || unused < 1))
        throw new PasserelleError(
          'ERR_CLI_USAGE',
          '--expire-unused-days: expected a whole number of days ≥ 1',
        );
      if (opts.expires !== undefined && Number.isNaN(Date.parse(opts.expires)))
        throw new PasserelleError(
          'ERR_CLI_USAGE',
          '--expires: expected an ISO date-time such as 2027-01-31T00:00:00Z',
        );
      await withStore(opts.config, async (store, config) => {
        const { token, record } = await createFeedToken(
          store,
          {
            practiceId: opts.practice,
            practitionerId: opts.practitioner ?? null,
            privacy: opts.privacy,
            label: opts.label ?? null,
            expiresAt: opts.expires === undefined ? null : new Date(opts.expires).toISOString(),
            unusedExpiryDays: unused,
          },
          CLI_ACTOR,
        );
        out(feedUrl(baseUrlOf(config), token));
        io.stderr(`created feed ${record.id} (privacy ${record.privacy}); its URL is shown once\n`);
      });
    },
  );
icalToken
  .command('rotate <id>')
  .description('give a feed a new URL and print it once; the old URL stops working at once')
  .addOption(configOption())
  .action(async (id: string, opts: { config?: string }) => {
    await withStore(opts.config, async (store, config) => {
      const { token } = await rotateFeedToken(store, id, CLI_ACTOR);
      out(feedUrl(baseUrlOf(config), token));
      io.stderr(`rotated feed ${id}; the old URL now answers 404\n`);
    });
  });
icalToken
  .command('revoke <id>')
  .description('revoke a feed: its URL answers 404 at once')
  .addOption(configOption())
  .action(async (id: string, opts: { config?: string }) => {
    await withStore(opts.config, async (store) => {
      await revokeFeedToken(store, id, CLI_ACTOR);
      out(`revoked ${id}`);
    });
  });
icalToken
  .command('list')
  .description('list feeds (never their URLs)')
  .option('--practice <id>', 'only this practice')
  .option('--all', 'include revoked feeds')
  .addOption(configOption())
  .action(async (opts: { practice?: string; all?: boolean; config?: string }) => {
    await withStore(opts.config, async (store) => {
      const now = store.now();
      for (const t of await store.icalTokens.list({
        ...(opts.practice !== undefined && { practiceId: opts.practice }),
        includeRevoked: opts.all === true,
      })) {
        out(
          `${t.id}  ${feedTokenStatus(t, now).padEnd(7)} ${t.privacy.padEnd(8)} practice ${t.practiceId}  ${t.practitionerId ? `practitioner ${t.practitionerId}` : 'whole practice'}  ${t.label ?? ''}  last used ${t.lastUsedAt ?? 'never'}`,
        );
      }
    });
  });

const audit = program.command('audit').description('audit trail');
audit
  .command('verify')
  .description(
    'recompute the keyed hash chain, check it against the signed checkpoints, and report the first broken event',
  )
  .addOption(configOption())
  .action(async (opts: { config?: string }) => {
    await withStore(
      opts.config,
      async (store, config) => {
        const checkpointFile = auditCheckpointFile(config);
        const r = await verifyAuditTrail(store, {
          key: openAuditKey(config, { create: false }).key,
          checkpointFile,
        });
        if (!r.ok)
          throw new PasserelleError(
            'ERR_AUDIT_CHAIN_BROKEN',
            `audit trail broken at event #${r.firstBrokenSeq}: ${r.reason} (${r.checked} events before it verify)`,
          );
        out(
          `audit trail verified: ${r.checked} events, chain intact, ${r.checkpoints ?? 0} signed checkpoint(s) of ${checkpointFile} match`,
        );
      },
      { createAuditKey: false },
    );
  });
audit
  .command('checkpoint')
  .description(
    'append a signed checkpoint of the chain head to the checkpoint file now (the service also does, regularly)',
  )
  .addOption(configOption())
  .action(async (opts: { config?: string }) => {
    await withStore(
      opts.config,
      async (store, config) => {
        const c = config.audit.checkpoint;
        const writer = new AuditCheckpointer({
          store,
          key: openAuditKey(config, { create: false }).key,
          file: auditCheckpointFile(config),
          everyEvents: c.everyEvents,
          everyMs: c.everyMinutes * 60_000,
          checkMs: 0,
          ...(c.webhookUrl && { webhookUrl: c.webhookUrl }),
          webhookTimeoutMs: c.webhookTimeoutMs,
          logger: createLogger({ silent: true }),
          now: store.now,
        });
        await writer.start();
        await writer.stop();
        const head = await store.audit.head();
        out(`checkpoint of event #${head.seq} appended to ${auditCheckpointFile(config)}`);
      },
      { createAuditKey: false },
    );
  });

program
  .command('purge')
  .description('remove now what is past its retention (retention.* keys) and print what went, per data class')
  .option('--json', 'print the report as JSON')
  .addOption(configOption())
  .action(async (opts: { json?: boolean; config?: string }) => {
    const { purgeExpired, RETENTION_CLASSES } = await import('../privacy/retention.js');
    await withStore(opts.config, async (store, config) => {
      const report = await purgeExpired(store, config.retention, { actor: 'cli', via: 'cli' });
      if (opts.json) return out(JSON.stringify(report, null, 2));
      out(`retention purge at ${report.at}:`);
      for (const c of RETENTION_CLASSES)
        out(
          `  ${c.padEnd(17)} ${String(report.removed[c]).padStart(8)} removed (older than ${report.before[c]})`,
        );
    });
  });

// RGPD rights on one patient (src/privacy/patient-data.ts). The CLI acts as an admin; both
// commands are audited with actor `cli`.
/** The canonical id of a patient named by its id on a link (`--link`), or the id itself. */
async function canonicalPatient(
  store: Awaited<ReturnType<typeof openConfiguredStore>>,
  id: string,
  linkId: string | undefined,
): Promise<string> {
  if (linkId === undefined) return id;
  const canonical = await store.identityMap.findCanonical(linkId, 'Patient', id);
  if (canonical === undefined)
    throw new PasserelleError('ERR_NOT_FOUND', `no patient with that id on link ${linkId}`, {
      details: { link: linkId },
    });
  return canonical;
}
const patient = program.command('patient').description('RGPD rights on one patient: export, erase');
patient
  .command('export <id>')
  .description(
    'print as JSON everything held about a patient (canonical Patient id), or write it to --output',
  )
  .requiredOption('--practice <id>', 'the practice the patient belongs to')
  .option(
    '--link <id>',
    "the id given is the patient's id on this link (IPP, secretariat id), not the canonical one",
  )
  .option('-o, --output <file>', 'write the export to this file (created 0600) instead of stdout')
  .addOption(configOption())
  .action(async (id: string, opts: { practice: string; link?: string; output?: string; config?: string }) => {
    const { exportPatient } = await import('../privacy/patient-data.js');
    await withStore(opts.config, async (store) => {
      const patientId = await canonicalPatient(store, id, opts.link);
      const text = `${JSON.stringify(await exportPatient(store, opts.practice, patientId, { actor: 'cli', role: 'admin', via: 'cli' }), null, 2)}\n`;
      if (opts.output === undefined) return io.stdout(text);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(opts.output, text, { mode: 0o600, flag: 'wx' });
      io.stderr(`exported patient ${id} to ${opts.output}\n`);
    });
  });
patient
  .command('erase <id>')
  .description('erase a patient: records deleted, appointments pseudonymised, audit kept (cannot be undone)')
  .requiredOption('--practice <id>', 'the practice the patient belongs to')
  .option(
    '--link <id>',
    "the id given is the patient's id on this link (IPP, secretariat id), not the canonical one",
  )
  .option('--yes', 'confirm: the erase cannot be undone')
  .addOption(configOption())
  .action(async (id: string, opts: { practice: string; link?: string; yes?: boolean; config?: string }) => {
    if (opts.yes !== true)
      throw new PasserelleError(
        'ERR_CLI_USAGE',
        'an erase cannot be undone: add --yes to confirm (export first with passerelle patient export)',
      );
    const { erasePatient } = await import('../privacy/patient-data.js');
    await withStore(opts.config, async (store) => {
      const r = await erasePatient(store, opts.practice, await canonicalPatient(store, id, opts.link), {
        actor: 'cli',
        role: 'admin',
        via: 'cli',
      });
      out(JSON.stringify(r, null, 2));
    });
  });

const mapping = program
  .command('mapping')
  .description('mapping profiles (mappings/*.yaml, docs/mappings.md)');
mapping
  .command('validate <file>')
  .description('check a profile: every problem with file:line:column and its path in the profile')
  .action(async (file: string) => {
    const { loadProfile } = await import('../mapping/index.js');
    const r = loadProfile(file);
    const issues = r.ok ? r.warnings : r.issues;
    const errors = issues.filter((i) => i.severity === 'error');
    const warnings = issues.filter((i) => i.severity === 'warning');
    for (const w of warnings) io.stderr(`warning: ${formatIssues([w])}\n`);
    if (!r.ok) {
      io.stderr(`${formatIssues(errors)}\n`);
      io.stderr(`passerelle: ${file}: ${errors.length} error${errors.length > 1 ? 's' : ''}\n`);
      throw new CliExit(1);
    }
    const kinds = Object.values(r.plan.kinds);
    out(
      `${file}: valid ${r.plan.protocol} ${r.plan.version} profile ${r.plan.name}${r.plan.parents.length > 0 ? ` extending ${r.plan.parents.join(' → ')}` : ''} (${kinds.map((k) => k.kind).join(', ')}; ${kinds.reduce((n, k) => n + k.rules.length, 0)} rules${warnings.length ? `; ${warnings.length} warning${warnings.length > 1 ? 's' : ''}` : ''})`,
    );
  });
mapping
  .command('test [file]')
  .description('map samples with a profile: canonical result, outbound rendering, field-by-field table')
  .option(
    '--input <samples...>',
    'HL7 messages (.hl7), FHIR resources (.json), or with --direction from-canonical canonical resources (.json)',
  )
  .option(
    '--message <id>',
    "a stored message (in-<n>, from passerelle messages list) mapped with its link's current profile, or with <file> as a draft; writes nothing",
  )
  .addOption(configOption())
  .addOption(
    new Option('--direction <direction>', 'which way to map the samples')
      .choices(['to-canonical', 'from-canonical'])
      .default('to-canonical'),
  )
  .option('--timezone <zone>', "the practice's IANA zone (default: the profile's, else Europe/Paris)")
  .option('--test-link', 'map as on a link marked as test (INS test/demo OIDs accepted)')
  .option('--charset <name>', 'HL7 character set when MSH-18 is empty (e.g. 8859/1)')
  .action(
    async (
      file: string | undefined,
      opts: {
        input?: string[];
        message?: string;
        config?: string;
        direction: 'to-canonical' | 'from-canonical';
        timezone?: string;
        testLink?: boolean;
        charset?: string;
      },
    ) => {
      const { dryRun, formatReportTable, loadProfile, requirePlan } = await import('../mapping/index.js');
      const { readFileSync } = await import('node:fs');
      if ((opts.input === undefined) === (opts.message === undefined))
        throw new PasserelleError(
          'ERR_CLI_USAGE',
          'give --input <samples...> or --message <id> (one of them)',
        );
      if (opts.message !== undefined) {
        const id = opts.message;
        const { messageDetail } = await import('../sync/messages.js');
        const draft = file === undefined ? undefined : requirePlan(loadProfile(file));
        const mapping = await withStore(
          opts.config,
          async (store) =>
            (
              await messageDetail(store, id, {
                raw: false,
                profiles: connectors.profiles(),
                ...(draft && { plan: draft }),
              })
            ).mapping,
        );
        if (!mapping)
          throw new PasserelleError(
            'ERR_CLI_USAGE',
            `message ${id}: its link takes no mapping profile; give one as <file>`,
          );
        out(
          `== profile ${mapping.profile.name} (${mapping.profile.source}${mapping.profile.version !== null ? ` v${mapping.profile.version}` : ''})`,
        );
        const r = mapping.result;
        if (!r) {
          io.stderr(
            `passerelle: ${id}: ${mapping.unavailable?.code ?? 'ERR_INTERNAL'}: ${mapping.unavailable?.message ?? 'not mapped'}\n`,
          );
          throw new CliExit(1);
        }
        out(
          `== canonical (${r.messageType ?? ''} → ${r.records.length} record${r.records.length === 1 ? '' : 's'})`,
        );
        out(JSON.stringify(r.records, null, 2));
        out('');
        out('== fields (to-canonical)');
        out(formatReportTable(r.report));
        if (r.flags.length > 0) out(`flags: ${r.flags.join(', ')}`);
        if (r.error) {
          io.stderr(`passerelle: ${id}: ${r.error.code}: ${r.error.message}\n`);
          throw new CliExit(1);
        }
        return;
      }
      if (file === undefined)
        throw new PasserelleError('ERR_CLI_USAGE', 'give the profile file to test the --input samples with');
      const plan = requirePlan(loadProfile(file));
      const inputs = opts.input ?? [];
      const json = (v: unknown) => JSON.stringify(v, null, 2);
      let failed = 0;
      for (const input of inputs) {
        let sample: Buffer;
        try {
          sample = readFileSync(input);
        } catch (e) {
          throw new PasserelleError(
            'ERR_CLI_USAGE',
            `cannot read --input ${input}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
          );
        }
        if (inputs.length > 1) out(`#### ${input}`);
        let r;
        try {
          r = dryRun(plan, sample, {
            direction: opts.direction,
            ctx: { ...(opts.timezone && { timezone: opts.timezone }), testLink: opts.testLink === true },
            ...(opts.charset && { defaultCharset: opts.charset }),
          });
        } catch (e) {
          if (!isPasserelleError(e)) throw e;
          failed++;
          io.stderr(`passerelle: ${input}: ${e.code}: ${e.message}\n`);
          continue;
        }
        const canonical = r.records.map((x) => ({
          kind: x.kind,
          externalId: x.externalId,
          ...(x.deleted && { deleted: true }),
          ...(x.supersedes && { supersedes: x.supersedes }),
          data: x.data,
        }));
        out(
          `== canonical (${r.direction === 'to-canonical' ? `${r.messageType ?? ''} → ` : 'input: '}${r.records.length} record${r.records.length === 1 ? '' : 's'})`,
        );
        out(json(canonical));
        out('');
        out(
          `== outbound rendering${r.rendered ? ` (${[r.rendered.messageType, r.rendered.event].filter(Boolean).join(', ')})` : ''}`,
        );
        if (r.rendered?.hl7) out(r.rendered.hl7.replace(/\r/g, '\n').trimEnd());
        else if (r.rendered?.fhir) out(json(r.rendered.fhir));
        else out(r.ok ? '(nothing to send)' : '(none: the sample did not map cleanly)');
        out('');
        out(`== fields (${r.direction})`);
        out(formatReportTable(r.report));
        if (r.flags.length > 0) out(`flags: ${r.flags.join(', ')}`);
        out('');
        if (r.error) {
          failed++;
          io.stderr(
            `passerelle: ${inputs.length > 1 ? `${input}: ` : ''}${r.error.code}: ${r.error.message}\n`,
          );
          if (r.issues.length > 1) io.stderr(`${formatIssues(r.issues).replace(/^/gm, '  ')}\n`);
        }
      }
      if (failed > 0) throw new CliExit(1);
    },
  );
mapping
  .command('schema')
  .description('print the JSON Schema of profiles (mappings/schema.json)')
  .action(async () => {
    const { profileJsonSchema } = await import('../mapping/index.js');
    out(JSON.stringify(profileJsonSchema(), null, 2));
  });

// The message browser (src/sync/messages.ts): the CLI acts as an admin; a raw read is audited.
const messages = program
  .command('messages')
  .description("a link's inbound and outbound messages, and one message's whole path");
messages
  .command('list')
  .description("a link's messages, newest first (one line each; --json for the page as JSON)")
  .requiredOption('--link <id>', 'the link')
  .addOption(
    new Option('--direction <direction>', 'inbound (the inbox) or outbound (the outbox)')
      .choices(['inbound', 'outbound'])
      .default('inbound'),
  )
  .option('--since <time>', 'received at or after (ISO-8601)')
  .option('--until <time>', 'received before (ISO-8601)')
  .option('--type <type>', 'message type (SIU^S12, or SIU^ for every trigger; outbound: a canonical kind)')
  .addOption(
    new Option('--outcome <outcome>', 'outcome').choices([
      'pending',
      'applied',
      'applied-with-warnings',
      'rejected',
      'dead-letter',
    ]),
  )
  .option('--control-id <id>', "the sender's control id (MSH-10)")
  .option('--patient <id>', 'messages about this patient (canonical id)')
  .option('--before <id>', 'the next page: the id printed after the last page')
  .option('--limit <n>', 'messages per page (default 50)')
  .option('--json', 'print the page as JSON')
  .addOption(configOption())
  .action(
    async (opts: {
      link: string;
      direction: 'inbound' | 'outbound';
      since?: string;
      until?: string;
      type?: string;
      outcome?: 'pending' | 'applied' | 'applied-with-warnings' | 'rejected' | 'dead-letter';
      controlId?: string;
      patient?: string;
      before?: string;
      limit?: string;
      json?: boolean;
      config?: string;
    }) => {
      const { listMessages } = await import('../sync/messages.js');
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 500))
        throw new PasserelleError('ERR_CLI_USAGE', '--limit: an integer from 1 to 500');
      const page = await withStore(opts.config, (store) =>
        listMessages(store, opts.link, {
          direction: opts.direction,
          since: opts.since,
          until: opts.until,
          type: opts.type,
          outcome: opts.outcome,
          controlId: opts.controlId,
          patient: opts.patient,
          before: opts.before,
          limit,
        }),
      );
      if (opts.json) {
        out(JSON.stringify(page, null, 2));
        return;
      }
      for (const m of page.items)
        out([m.id, m.at, m.messageType, m.controlId, m.outcome, m.errorCode ?? ''].join('\t').trimEnd());
      if (page.next) out(`(more: --before ${page.next})`);
    },
  );
messages
  .command('show <id>')
  .description(
    'one message as JSON: metadata, HL7 tree, what the current profile makes of it, what it left, the ACK; --raw adds the raw bytes (audited)',
  )
  .option('--raw', 'include the raw bytes (the read is audited)')
  .addOption(configOption())
  .action(async (id: string, opts: { raw?: boolean; config?: string }) => {
    const { messageDetail } = await import('../sync/messages.js');
    const detail = await withStore(opts.config, async (store) => {
      const d = await messageDetail(store, id, { raw: opts.raw === true, profiles: connectors.profiles() });
      if (opts.raw)
        await store.audit.append({
          actor: 'cli',
          role: 'admin',
          action: 'message.raw-read',
          practiceId: d.message.practiceId,
          resourceType: 'Message',
          resourceId: id,
          outcome: 'success',
          via: 'cli',
          details: { linkId: d.message.linkId, bodyKept: d.bodyKept },
        });
      return d;
    });
    out(JSON.stringify(detail, null, 2));
  });

/** A mapping on one line, in French: practice staff read it (docs/sync.md, practitioner mappings). */
function mappingLine(m: PractitionerMapping): string {
  const name = (m.proposal?.['name'] as { family?: string; given?: string[] }[] | undefined)?.[0];
  const who = name ? ` (${[name.family, ...(name.given ?? [])].filter(Boolean).join(' ')})` : '';
  const state =
    m.status === 'open'
      ? `à rapprocher, ${m.held} rendez-vous en attente`
      : `rapproché du praticien ${m.practitionerId ?? '?'} (${{ existing: 'choisi', rpps: 'par RPPS', created: 'créé' }[m.resolution ?? 'existing']}, par ${m.resolvedBy ?? '?'})`;
  return `lien ${m.linkId}\tidentifiant « ${m.localId} »${who}\t${state}\tdepuis ${m.createdAt}`;
}
const practitioners = program
  .command('practitioners')
  .description(
    "practitioner ids of a practice software mapped to the practice's practitioners, and the review of the unknown ones",
  );
practitioners
  .command('list')
  .description(
    'the practitioner ids waiting for a mapping (--all: every mapping), one line each in French; --json for JSON',
  )
  .option('--practice <id>', 'only this practice')
  .option('--link <id>', 'only this link')
  .option('--all', 'mapped ones too, not only those waiting')
  .option('--json', 'print them as JSON')
  .addOption(configOption())
  .action(
    async (opts: { practice?: string; link?: string; all?: boolean; json?: boolean; config?: string }) => {
      const items = await withStore(opts.config, (store) =>
        store.practitionerMappings.list({
          ...(opts.practice !== undefined && { practiceId: opts.practice }),
          ...(opts.link !== undefined && { linkId: opts.link }),
          ...(opts.all !== true && { status: 'open' as const }),
          limit: 1000,
        }),
      );
      if (opts.json) {
        out(JSON.stringify(items, null, 2));
        return;
      }
      if (items.length === 0) {
        out(opts.all ? 'Aucun rapprochement de praticien.' : 'Aucun praticien à rapprocher.');
        return;
      }
      out(
        opts.all
          ? `Rapprochements de praticiens (${items.length}) :`
          : `Praticiens à rapprocher (${items.length}) :`,
      );
      for (const m of items) out(`  ${mappingLine(m)}`);
    },
  );
practitioners
  .command('map <localId>')
  .description(
    "map a practice software's practitioner id to a practitioner of the practice (--practitioner or --rpps), or --create a new one; the held appointments get it",
  )
  .requiredOption('--link <id>', 'the link that names the id')
  .option('--practitioner <id>', 'the canonical practitioner id')
  .option('--rpps <number>', 'the practitioner of the practice with this RPPS (11 digits)')
  .option('--create', 'create a new practitioner from what the link said of it')
  .option('--family <name>', 'with --create: the family name')
  .option('--given <name>', 'with --create: the given name')
  .addOption(configOption())
  .action(
    async (
      localId: string,
      opts: {
        link: string;
        practitioner?: string;
        rpps?: string;
        create?: boolean;
        family?: string;
        given?: string;
        config?: string;
      },
    ) => {
      const chosen = [
        opts.practitioner !== undefined,
        opts.rpps !== undefined && opts.create !== true,
        opts.create === true,
      ].filter(Boolean).length;
      if (chosen !== 1)
        throw new PasserelleError('ERR_CLI_USAGE', 'give exactly one of --practitioner, --rpps or --create');
      if (opts.rpps !== undefined && !/^\d{11}$/.test(opts.rpps))
        throw new PasserelleError('ERR_CLI_USAGE', '--rpps: 11 digits');
      const decision: PractitionerMappingDecision =
        opts.practitioner !== undefined
          ? { practitionerId: opts.practitioner }
          : opts.create === true
            ? {
                create: true,
                ...(opts.family !== undefined && { family: opts.family }),
                ...(opts.given !== undefined && { given: opts.given }),
                ...(opts.rpps !== undefined && { rpps: opts.rpps }),
              }
            : { rpps: opts.rpps as string };
      const { SyncEngine } = await import('../sync/engine.js');
      const { SyncOperator } = await import('../sync/operator.js');
      const { defaultConnectorRegistry } = await import('../app/connectors.js');
      const decided = await withStore(opts.config, (store) => {
        // Rows enqueued here are sent by the running service's dispatcher at its next wake.
        const engine = new SyncEngine({
          store,
          registry: defaultConnectorRegistry(),
          log: createLogger({ level: 'error' }),
        });
        return new SyncOperator(engine, () => undefined).resolvePractitionerMapping(
          opts.link,
          localId,
          decision,
          { id: 'cli', role: 'admin', via: 'cli' },
        );
      });
      const how = { existing: '', rpps: ' (par RPPS)', created: ' (créé)' }[decided.resolution ?? 'existing'];
      out(
        `Identifiant « ${localId} » du lien ${opts.link} rapproché du praticien ${decided.practitionerId ?? '?'}${how}.`,
      );
      out(
        decided.released.length === 0
          ? "Aucun rendez-vous n'attendait ce praticien."
          : `${decided.released.length} rendez-vous en attente complété(s) et transmis à l'autre côté.`,
      );
    },
  );

const link = program
  .command('link')
  .description('links between a practice and its software or secretariat platform');
link
  .command('test <id>')
  .description(
    "connect with the link's configuration and credentials and check what its server offers against what the link needs (FHIR links)",
  )
  .addOption(configOption())
  .action(async (id: string, opts: { config?: string }) => {
    const ok = await withStore(opts.config, async (store, config) => {
      const l = await store.links.require(id);
      const definition = connectors.get(l.connector);
      if (!definition?.linkTest) {
        const testable = connectors
          .definitions()
          .filter((d) => d.linkTest)
          .map((d) => d.name);
        throw new PasserelleError(
          'ERR_CLI_USAGE',
          `link test checks ${testable.join(' and ')} links; link ${id} uses ${l.connector}`,
        );
      }
      const secrets = l.secrets ? openSecretBox(config).box.openJson<JsonObject>(l.secrets, l.id) : null;
      const { getActivePlan } = await import('../mapping/runtime.js');
      const result = await definition.linkTest(
        l,
        secrets,
        await getActivePlan(store, l.id, connectors.profiles()),
      );
      out(result.text);
      return result.ok;
    });
    if (!ok) throw new CliExit(1);
  });

const simulate = program
  .command('simulate')
  .description('run a simulator of a peer system, for demos and tests');
// One subcommand per registered connector with a simulator; its options are the simulator's.
for (const definition of connectors.definitions()) {
  const sim = definition.simulator;
  if (!sim) continue;
  const command = simulate.command(sim.command).description(sim.summary);
  for (const o of sim.options) {
    const option = new Option(o.flags, o.description);
    if (o.choices) option.choices(o.choices);
    if (o.default !== undefined) option.default(o.default);
    command.addOption(option);
  }
  command.action(async (opts: Record<string, unknown>) => {
    await sim.run(opts, {
      out,
      started: (close) => {
        const shutdown = () =>
          void close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        process.on('SIGTERM', shutdown);
        process.on('SIGINT', shutdown);
      },
    });
  });
}

/** Every command a user runs (`serve`, `apikey create`, `simulate hl7`…): what the README lists. */
export function commandPaths(): string[] {
  const paths: string[] = [];
  const walk = (command: Command, prefix: readonly string[]) => {
    for (const sub of command.commands) {
      const path = [...prefix, sub.name()];
      if (sub.commands.length === 0) paths.push(path.join(' '));
      else walk(sub, path);
    }
  };
  walk(program, []);
  return paths;
}

/**
 * Runs one command line (`argv` without node and the script) and resolves with its exit code.
 * A long-running command (serve, simulate) resolves 0 once started and keeps running.
 */
export async function main(argv: readonly string[], withIo: CliIo = processIo()): Promise<number> {
  io = withIo;
  // Everything passerelle creates (store file, WAL, key file, logs, file-drop output) may hold
  // patient data or keys: owner only, whatever the shell's umask (docs/security.md).
  process.umask(0o077);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    return fail(e);
  }
}
