/**
 * The HL7 v2 connector: practice software that speaks HL7 v2 over MLLP or through files.
 *
 * - Receives (`start`): an MLLP listener and/or an inbound folder. Each message is parsed
 *   (codec), mapped by the link's translator, committed by the engine with its dedupe key
 *   (MSH-3, MSH-4, MSH-10 + body hash), and only then acknowledged (design rules 1 and 2).
 * - Sends (`push`): the translator builds the message for one outbox change; it goes out over
 *   MLLP (one message in flight, ACK awaited) or as a file (temp file + rename).
 *   AA / CA → done; AE / CE → dead letter with the peer's ERR text; AR / CR, timeout, or
 *   connection failure → retried by the dispatcher with backoff.
 * - No `pull`: practice software pushes HL7 (there is no query to poll).
 *
 * The mapping between HL7 and the canonical model is not hard-coded here: each link runs its
 * mapping profile through the mapping engine (profile-translator.ts). A link whose profile
 * cannot be loaded does not start (ERR_CONNECTOR_CONFIG_INVALID naming `profile`).
 * `hl7v2Connector({ translator })` takes another translator factory.
 */
import { createHash } from 'node:crypto';

import type {
  Connector,
  ConnectorContext,
  ConnectorDefinition,
  HealthReport,
  InboundHandler,
  InboundMessage,
  OutboundChange,
  PushResult,
} from '../../src/connector/contract.js';
import { defineConnector } from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import { type Hl7Charset, type Hl7Message, parseHl7, resolveCharset } from '../../src/hl7/index.js';
import { RESOURCE_KINDS } from '../../src/model/resources.js';
import { Hl7v2Config, Hl7v2Secrets } from './config.js';
import { FileDropWatcher, type FileReport } from './file-drop/watcher.js';
import { safeName, writeFileAtomically } from './file-drop/writer.js';
import { InboxDrainer } from './inbox-drainer.js';
import { MllpClient } from './mllp/client.js';
import { MllpServer } from './mllp/server.js';
import { loadPem } from './mllp/tls.js';
import { DEFAULT_PROFILE, profileTranslatorFactory } from './profile-translator.js';
import { type Hl7Deferral, Hl7Receiver } from './receiver.js';
import { hl7Simulator } from './simulator/command.js';
import type { Hl7OutboundContext, Hl7Translator, Hl7TranslatorContext } from './translator.js';

export { Hl7v2Config } from './config.js';
export {
  errorLocation,
  ProfileTranslator,
  profileTranslatorFactory,
  type ProfileTranslatorOptions,
} from './profile-translator.js';
export type {
  Hl7InboundTranslation,
  Hl7OutboundContext,
  Hl7OutboundTranslation,
  Hl7Translator,
  Hl7TranslatorContext,
} from './translator.js';
export { hl7FieldError, unsupportedMessage } from './translator.js';

/** Makes the translator of one link (from its mapping profile, `ctx.link.profile`). */
export type Hl7TranslatorFactory = (config: Hl7v2Config, ctx: ConnectorContext) => Hl7Translator;

export interface Hl7v2ConnectorOptions {
  /** Default: the link's mapping profile through the mapping engine (`profileTranslatorFactory()`). */
  readonly translator?: Hl7TranslatorFactory;
  /** Called after each dropped file is handled (tests, simulator). */
  readonly onFile?: (linkId: string, report: FileReport) => void;
}

/** MSH-10 of a message sent for one change: stable across retries of that change (20 characters). */
export function outboundControlId(idempotencyKey: string): string {
  return `P${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 19).toUpperCase()}`;
}

/** The peer's explanation in a negative ACK: ERR-3, ERR-2 and ERR-8 (v2.5+) or MSA-3 / ERR-1 (earlier). */
export function negativeAckText(ack: Hl7Message): string {
  const parts: string[] = [];
  const code = ack.get('ERR-3.1') ?? ack.get('ERR-1.4.1');
  const text = ack.get('ERR-3.2') ?? ack.get('ERR-1.4.2');
  if (code || text) parts.push([code, text].filter(Boolean).join(' '));
  const seg = ack.get('ERR-2.1') ?? ack.get('ERR-1.1');
  const field = ack.get('ERR-2.3') ?? ack.get('ERR-1.3');
  if (seg) parts.push(`at ${seg}${field ? `-${field}` : ''}`);
  const message = ack.get('ERR-8') ?? ack.get('MSA-3');
  if (message) parts.push(message);
  const all = parts.join(': ') || 'no error detail';
  return all.length > 300 ? `${all.slice(0, 297)}...` : all;
}

/** One running HL7 v2 link. The extra getters are for tests, the CLI and health. */
export class Hl7v2Link implements Connector {
  private server: MllpServer | undefined;
  private watcher: FileDropWatcher | undefined;
  private readonly client: MllpClient | undefined;
  private readonly receiver: Hl7Receiver;
  private readonly context: Hl7TranslatorContext;
  private readonly charset: Hl7Charset;
  private lastPushError: string | undefined;
  private translatorReady: Promise<void> | undefined;
  private drainer: InboxDrainer | undefined;

  constructor(
    private readonly config: Hl7v2Config,
    private readonly ctx: ConnectorContext,
    private readonly translator: Hl7Translator,
    private readonly options: Hl7v2ConnectorOptions = {},
  ) {
    const link = ctx.link;
    this.context = {
      linkId: link.id,
      practiceId: link.practiceId,
      profile: link.profile,
      timezone: ctx.timezone,
      testLink: link.isTest,
      now: ctx.now,
    };
    this.charset = resolveCharset(config.defaultCharset ?? 'UNICODE UTF-8') ?? 'UNICODE UTF-8';
    this.receiver = new Hl7Receiver({
      translator,
      context: this.context,
      ...(config.defaultCharset !== undefined && { defaultCharset: config.defaultCharset }),
      reusedControlId: config.reusedControlId,
      newPractitioners: config.newPractitioners,
      sendingApplication: config.sendingApplication,
      sendingFacility: config.sendingFacility,
      log: ctx.log,
    });
    const send = config.mllp?.send;
    if (send) {
      const secretKey =
        typeof ctx.secrets?.['mllpSendTlsKey'] === 'string'
          ? (ctx.secrets['mllpSendTlsKey'] as string)
          : undefined;
      const t = send.tls;
      this.client = new MllpClient({
        host: send.host,
        port: send.port,
        ackTimeoutMs: send.ackTimeoutMs,
        connectTimeoutMs: send.connectTimeoutMs,
        log: ctx.log,
        ...(t && {
          tls: {
            ca: t.ca && loadPem(t.ca, 'config.mllp.send.tls.ca', link.id),
            cert: t.cert && loadPem(t.cert, 'config.mllp.send.tls.cert', link.id),
            key: t.key ? loadPem(t.key, 'config.mllp.send.tls.key', link.id) : secretKey,
            servername: t.servername,
          },
        }),
      });
    }
  }

  /** The port the MLLP listener is bound to (useful with port 0), or undefined. */
  get mllpPort(): number | undefined {
    return this.server?.port;
  }

  /** MLLP connections open now. */
  get mllpConnections(): number {
    return this.server?.connectionCount ?? 0;
  }

  get fileWatcher(): FileDropWatcher | undefined {
    return this.watcher;
  }

  /** The drainer of messages acknowledged on commit (`acceptAck: commit`), if any. */
  get inboxDrainer(): InboxDrainer | undefined {
    return this.drainer;
  }

  /** The translator's own start (the link's mapping plan), once; a failure is tried again at the next call. */
  private ready(): Promise<void> {
    this.translatorReady ??= (this.translator.start?.() ?? Promise.resolve()).catch((e: unknown) => {
      this.translatorReady = undefined;
      throw e;
    });
    return this.translatorReady;
  }

  async start(handler: InboundHandler): Promise<void> {
    const { config, ctx } = this;
    await this.ready();
    let deferral: Hl7Deferral | undefined;
    if (config.acceptAck === 'commit' && ctx.deferred) {
      const deferred = ctx.deferred;
      const drainer = new InboxDrainer({
        deferred,
        remap: (body) => this.receiver.remap(body),
        log: ctx.log,
      });
      this.drainer = drainer;
      deferral = {
        store: (m) => deferred.store(m),
        stored: () => drainer.kick(),
        drained: () => drainer.drained(),
      };
      // Messages acknowledged before a stop or a crash and not applied yet: applied now, once.
      drainer.kick();
    }
    const listen = config.mllp?.listen;
    if (listen) {
      const t = listen.tls;
      const secretKey =
        typeof ctx.secrets?.['mllpListenTlsKey'] === 'string'
          ? (ctx.secrets['mllpListenTlsKey'] as string)
          : undefined;
      const key = t?.key ? loadPem(t.key, 'config.mllp.listen.tls.key', ctx.link.id) : secretKey;
      if (t && key === undefined) {
        throw new PasserelleError(
          'ERR_CONNECTOR_CONFIG_INVALID',
          `link ${ctx.link.id}: config.mllp.listen.tls.key: give the key (PEM or file) or secrets.mllpListenTlsKey`,
          {
            details: { linkId: ctx.link.id },
            issues: [{ path: 'config.mllp.listen.tls.key', message: 'missing' }],
          },
        );
      }
      this.server = await MllpServer.listen({
        host: listen.host,
        // Port 0 (any free port) stays 0; otherwise this instance's own port in a cluster.
        port: listen.port === 0 ? 0 : listen.port + (ctx.listenPortOffset ?? 0),
        maxMessageBytes: listen.maxMessageBytes,
        idleTimeoutMs: listen.idleTimeoutMs,
        maxConnections: listen.maxConnections,
        maxConnectionsPerAddress: listen.maxConnectionsPerAddress,
        ...(ctx.refusals && { refusals: ctx.refusals }),
        log: ctx.log,
        ...(t &&
          key !== undefined && {
            tls: {
              cert: loadPem(t.cert, 'config.mllp.listen.tls.cert', ctx.link.id),
              key,
              ca: t.ca && loadPem(t.ca, 'config.mllp.listen.tls.ca', ctx.link.id),
              requestClientCert: t.requestClientCert,
            },
          }),
        handle: async (event) => {
          if (event.type === 'oversize') {
            const error = new PasserelleError(
              'ERR_MLLP_TOO_LARGE',
              `the message is larger than ${listen.maxMessageBytes} bytes (${event.size} received)`,
              {
                details: { hl7ErrorCode: '207', size: event.size },
              },
            );
            return this.receiver.refuse(event.head, error).answer;
          }
          return (await this.receiver.receive(event.payload, handler, deferral)).answer;
        },
      });
      ctx.log.info('mllp listener started', { host: listen.host, port: this.server.port, tls: Boolean(t) });
    }
    const drop = config.fileDrop;
    if (drop?.inbound) {
      this.watcher = new FileDropWatcher({
        dir: drop.inbound,
        pollMs: drop.pollMs,
        settleMs: drop.settleMs,
        log: ctx.log,
        receive: (raw) => this.receiver.receive(raw, handler),
        ...(this.options.onFile && { onFile: (r: FileReport) => this.options.onFile?.(ctx.link.id, r) }),
      });
      await this.watcher.start();
      ctx.log.info('file drop watcher started', { pollMs: drop.pollMs });
    }
  }

  async push(change: OutboundChange): Promise<PushResult> {
    const { config, ctx } = this;
    const fail = (error: PasserelleError): PushResult => {
      this.lastPushError = error.code;
      ctx.log.warn('hl7 push failed', { seq: change.seq, code: error.code, retryable: error.retryable });
      return { ok: false, error };
    };
    const outbound = config.fileDrop?.outbound;
    if (!this.client && !outbound) {
      return fail(
        new PasserelleError(
          'ERR_CONNECTOR_CONFIG_INVALID',
          `link ${ctx.link.id} has no outbound HL7 transport (mllp.send or fileDrop.outbound)`,
          { details: { linkId: ctx.link.id } },
        ),
      );
    }
    const octx: Hl7OutboundContext = {
      ...this.context,
      controlId: outboundControlId(change.idempotencyKey),
      timestamp: new Date(ctx.now()),
      sendingApplication: config.sendingApplication,
      sendingFacility: config.sendingFacility,
      charset: this.charset,
    };
    let message: Buffer;
    let externalId: string;
    try {
      await this.ready();
      const out = this.translator.fromChange(change, octx);
      if ('skipped' in out) {
        // The profile keeps the record from syncing (filters): done, nothing sent.
        ctx.log.info('hl7 change not sent: filtered by the profile', {
          seq: change.seq,
          kind: change.kind,
          reason: out.skipped,
        });
        return { ok: true, externalId: change.externalId ?? change.canonicalId };
      }
      message = out.message;
      externalId = out.externalId ?? change.externalId ?? change.canonicalId;
    } catch (e) {
      return fail(
        isPasserelleError(e)
          ? e
          : new PasserelleError('ERR_INTERNAL', `change ${change.seq}: the HL7 message could not be built`, {
              cause: e,
            }),
      );
    }
    let header;
    try {
      header = parseHl7(message, { defaultCharset: this.charset }).header;
    } catch (e) {
      return fail(
        new PasserelleError(
          'ERR_HL7_BUILD',
          `change ${change.seq}: the translator built a message that does not parse`,
          { cause: e, details: { seq: change.seq } },
        ),
      );
    }
    const controlId = header.controlId ?? octx.controlId;
    if (!this.client) {
      try {
        await writeFileAtomically(
          outbound as string,
          `${String(change.seq).padStart(12, '0')}-${safeName(controlId)}${config.fileDrop?.extension ?? '.hl7'}`,
          message,
        );
      } catch (e) {
        return fail(e as PasserelleError);
      }
      this.lastPushError = undefined;
      return { ok: true, externalId };
    }
    try {
      const answer = await this.client.send(message, {
        controlId,
        waitForApplicationAck: header.applicationAckType === 'AL',
      });
      switch (answer.code) {
        case 'AA':
        case 'CA':
          this.lastPushError = undefined;
          return { ok: true, externalId };
        case 'AE':
        case 'CE':
        case 'AR':
        case 'CR': {
          const retryable = answer.code === 'AR' || answer.code === 'CR';
          return fail(
            new PasserelleError(
              'ERR_MLLP_NEGATIVE_ACK',
              `the practice software answered ${answer.code} to MSH-10 ${controlId}: ${negativeAckText(answer.ack)}`,
              {
                retryable,
                details: { ackCode: answer.code, controlId, seq: change.seq },
              },
            ),
          );
        }
        default:
          return answer.code satisfies never;
      }
    } catch (e) {
      return fail(
        isPasserelleError(e)
          ? e
          : new PasserelleError('ERR_MLLP_CONNECTION', `MLLP send failed: ${(e as Error).message}`, {
              cause: e,
            }),
      );
    }
  }

  async remap(stored: { readonly body: Buffer; readonly messageType: string }): Promise<InboundMessage> {
    // A replay maps with the profile running now (design rule 9), not the one of the first try.
    await this.ready();
    await this.translator.refresh?.();
    return this.receiver.remap(stored.body);
  }

  async health(): Promise<HealthReport> {
    const checks: { name: string; ok: boolean; detail?: string }[] = [];
    if (this.config.mllp?.listen) {
      checks.push(
        this.server
          ? {
              name: 'mllp-listener',
              ok: true,
              detail: `port ${this.server.port}, ${this.server.connectionCount} connection(s)`,
            }
          : { name: 'mllp-listener', ok: false, detail: 'not listening' },
      );
    }
    if (this.client) {
      checks.push({
        name: 'mllp-sender',
        ok: this.lastPushError === undefined,
        detail: this.client.connected ? 'connected' : 'not connected (connects on the next message)',
      });
    }
    if (this.drainer)
      checks.push({
        name: 'inbox-drainer',
        ok: this.drainer.lastError === undefined,
        detail: `${this.drainer.applied} applied after their accept ACK${this.drainer.lastError ? `; last pass failed: ${this.drainer.lastError}` : ''}`,
      });
    if (this.watcher)
      checks.push({
        name: 'file-drop',
        ok: this.watcher.lastError === undefined,
        detail: `${this.watcher.polls} poll(s)`,
      });
    return { ok: checks.every((c) => c.ok), checks };
  }

  async stop(): Promise<void> {
    await Promise.all([this.server?.close(), this.watcher?.stop(), this.client?.close()]);
    // What is stored and not applied yet stays stored: the next start applies it.
    await this.drainer?.stop();
    await this.translator.stop?.();
  }
}

export const HL7V2_CAPABILITIES = {
  kinds: RESOURCE_KINDS,
  pull: false,
  receive: true,
  // What passerelle writes to practice software: bookings (SIU), new patients (ADT), call messages (MDM).
  push: ['Appointment', 'Patient', 'Communication'],
  // Written inside those messages: an appointment's patient (PID) and practitioner (AIP-3).
  related: ['Patient', 'Practitioner'],
} as const;

/** The connector definition with a translator factory (the mapping engine's, or a test one). */
export function hl7v2Connector(options: Hl7v2ConnectorOptions = {}): ConnectorDefinition<Hl7v2Config> {
  return defineConnector<Hl7v2Config>({
    name: 'hl7v2',
    protocol: 'hl7v2',
    defaultProfile: DEFAULT_PROFILE,
    docs: 'connectors/hl7v2/README.md',
    configSchema: Hl7v2Config,
    secretsSchema: Hl7v2Secrets,
    simulator: hl7Simulator,
    capabilities: HL7V2_CAPABILITIES,
    create(config, ctx) {
      const translator = (options.translator ?? profileTranslatorFactory())(config, ctx);
      return new Hl7v2Link(config, ctx, translator, options);
    },
  });
}

/** The product definition: each link translates through its mapping profile (profile-translator.ts). */
export default hl7v2Connector();
