/**
 * One inbound HL7 message, from bytes to a committed answer — the part MLLP and the file drop
 * share (design rules 1 and 2):
 *
 *   parse (codec) → translate (the link's translator) → engine handler: inbox dedupe on
 *   (MSH-3, MSH-4, MSH-10) + body hash, apply, build and store the ACK, commit → answer.
 *
 * The ACK is built by `respond` inside the engine's transaction and stored with the message,
 * so a resend gets the very same bytes back; the caller writes them only after the handler
 * resolved, i.e. after the durable commit. For a resend (`duplicate`) the engine returns the
 * stored bytes.
 *
 * - Parse or mapping failures still go through the handler with `error`: the message is stored
 *   and dead-lettered (replayable with `remap`), and answered AR (parse, unsupported) or AE
 *   (a field: ERR-2 names it).
 * - Input whose MSH-10 cannot be read cannot be deduplicated, so it is not stored: it is
 *   answered AR by `buildRejectAck` and logged by ids only.
 * - A handler failure (store down, passerelle stopping) means nothing was committed: AR (CE in
 *   enhanced mode) with "send again later".
 */
import { createHash, randomUUID } from 'node:crypto';

import type {
  InboundHandler,
  InboundMessage,
  IngestOutcome,
  IngestResult,
  StoreResult,
} from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import { encodeFrame } from '../../src/hl7/framing.js';
import {
  type AckCode,
  type AckError,
  type AckOptions,
  buildAck,
  buildRejectAck,
  formatHl7Timestamp,
  type Hl7Message,
  parseHl7,
} from '../../src/hl7/index.js';
import type { Logger } from '../../src/log/logger.js';
import { acknowledgmentCodes, type AckVerdict, answerIndependentOfApply } from './ack-policy.js';
import { salvageHeader } from './header-salvage.js';
import { ackErrorOf, type Hl7Translator, type Hl7TranslatorContext } from './translator.js';

export type ReusedControlIdPolicy = 'process' | 'reject';

export interface Hl7ReceiverOptions {
  readonly translator: Hl7Translator;
  readonly context: Hl7TranslatorContext;
  /** Character set when MSH-18 is empty (the link's agreement, §2.15.9.18). */
  readonly defaultCharset?: string;
  /** `process`: apply a reused MSH-10 with another body as a new message, flagged; `reject`: answer AE. */
  readonly reusedControlId: ReusedControlIdPolicy;
  /** `map`: new practitioner ids wait for an operator's mapping instead of being created (config.ts). */
  readonly newPractitioners?: 'create' | 'map';
  /** Our MSH-3 / MSH-4 in ACKs when the inbound MSH-5 / MSH-6 are empty. */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly log: Logger;
}

/** `stored`: committed and acknowledged, applied right after (Hl7Deferral). */
export type ReceiveStatus = IngestResult['outcome'] | 'stored' | 'unreadable' | 'unavailable';

/**
 * Accept ACK once committed, apply right after (link setting `acceptAck: commit`): for a
 * message whose answer does not depend on the apply (answerIndependentOfApply).
 */
export interface Hl7Deferral {
  /** Commits the message for a later apply (DeferredIngest.store). */
  readonly store: (message: InboundMessage) => Promise<StoreResult>;
  /** Told after a message was stored. */
  readonly stored: () => void;
  /** Resolves once messages stored earlier are applied: one answered after its apply waits for them. */
  readonly drained: () => Promise<void>;
}

export interface ReceiveResult {
  readonly status: ReceiveStatus;
  /** Bytes to send back (MLLP blocks, 0, 1 or 2 of them), or null for none. */
  readonly answer: Buffer | null;
  /** MSH-10 as written, when readable (safe to log). */
  readonly controlId: string | undefined;
  readonly messageType: string | undefined;
  readonly flags: readonly string[];
  /** Why the message was not applied. */
  readonly error?: PasserelleError;
}

/** Errors that refuse a message at the door (AR / CR) rather than in the application (AE). */
const REJECT_CODES = new Set([
  'ERR_HL7_PARSE',
  'ERR_HL7_CHARSET',
  'ERR_HL7_UNSUPPORTED_MESSAGE',
  'ERR_MLLP_TOO_LARGE',
  'ERR_MLLP_FRAME',
]);

function verdictOf(outcome: IngestOutcome): AckVerdict {
  switch (outcome.status) {
    case 'applied':
      return 'applied';
    case 'rejected':
      return outcome.error.code === 'ERR_HL7_REUSED_CONTROL_ID' ? 'reused' : 'error';
    case 'invalid':
      return REJECT_CODES.has(outcome.error.code) ? 'reject' : 'error';
    default:
      return outcome satisfies never;
  }
}

function withoutText(e: AckError): AckError {
  const { message: _text, ...rest } = e;
  return rest;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** MSH-10 of our own ACKs: 20 characters (the v2.5 length of MSH-10). */
export function newAckControlId(): string {
  return `PSL${randomUUID().replace(/-/g, '').slice(0, 17)}`;
}

export class Hl7Receiver {
  /** MSH-7 of our ACKs, formatted once per second (luxon formatting costs ~80 µs a call). */
  private stamp = { second: Number.NaN, text: '' };

  constructor(private readonly options: Hl7ReceiverOptions) {}

  private timestamp(): string {
    const now = this.options.context.now();
    const second = Math.floor(now / 1000);
    if (second !== this.stamp.second)
      this.stamp = {
        second,
        text: formatHl7Timestamp(new Date(second * 1000), this.options.context.timezone),
      };
    return this.stamp.text;
  }

  /** Parses, translates, commits through `handler`, and returns the answer to send. */
  async receive(raw: Buffer, handler: InboundHandler, deferral?: Hl7Deferral): Promise<ReceiveResult> {
    const built = this.inboundMessage(raw);
    if (built.kind === 'unreadable') return built.result;
    const { message, controlId, messageType, flags } = built;
    // A message with a mapping error or a reused id is settled at once (dead letter, AE/CE).
    const defer =
      deferral !== undefined &&
      built.parsed !== undefined &&
      built.error === undefined &&
      message.refuseReusedKey === undefined &&
      answerIndependentOfApply(built.ackTypes.accept, built.ackTypes.application);
    let result: IngestResult | StoreResult;
    try {
      if (deferral && !defer) await deferral.drained();
      result = defer ? await deferral.store(message) : await handler(message);
      if (defer && result.outcome === 'stored') deferral.stored();
    } catch (e) {
      const error = isPasserelleError(e)
        ? e
        : new PasserelleError(
            'ERR_STORE_UNAVAILABLE',
            `the message could not be committed: ${(e as Error)?.message ?? String(e)}`,
            { cause: e },
          );
      this.options.log.warn('hl7 message not committed; answered with a retry request', {
        controlId,
        messageType,
        code: error.code,
      });
      const unavailable = new PasserelleError(
        error.code,
        'passerelle could not store the message; send it again later',
        { retryable: true },
      );
      return {
        status: 'unavailable',
        answer: this.answer(raw, built.parsed, built.ackTypes, 'unavailable', unavailable),
        controlId,
        messageType,
        flags,
        error,
      };
    }
    let answer = result.response !== null && result.response.length > 0 ? result.response : null;
    // A resend of a message stored without an answer (it came through the file drop first).
    if (result.response === null && result.outcome === 'duplicate')
      answer = this.answer(raw, built.parsed, built.ackTypes, 'applied', undefined);
    this.options.log.info('hl7 message received', {
      controlId,
      messageType,
      outcome: result.outcome,
      flags: [...flags, ...result.flags],
    });
    return {
      status: result.outcome,
      answer,
      controlId,
      messageType,
      flags: [...flags, ...result.flags],
      ...(built.error && { error: built.error }),
    };
  }

  /**
   * Answer for input that never reaches the store: an oversize block (only its head was kept)
   * or a block cut short. AR (CR in enhanced mode) with what its first line tells.
   */
  refuse(head: Buffer, error: PasserelleError): ReceiveResult {
    const h = salvageHeader(head);
    this.options.log.warn('hl7 block refused', {
      code: error.code,
      controlId: h?.controlId,
      messageType: h?.messageType,
      bytes: head.length,
    });
    const answer = this.answer(
      head,
      undefined,
      { accept: h?.acceptAckType, application: h?.applicationAckType },
      'reject',
      error,
    );
    return {
      status: 'unreadable',
      answer,
      controlId: h?.controlId,
      messageType: h?.messageType,
      flags: [],
      error,
    };
  }

  /** The InboundMessage for stored bytes (dead-letter replay with the current translator). */
  remap(raw: Buffer): InboundMessage {
    const built = this.inboundMessage(raw);
    if (built.kind === 'unreadable') throw built.result.error as PasserelleError;
    return built.message;
  }

  private inboundMessage(raw: Buffer):
    | { kind: 'unreadable'; result: ReceiveResult }
    | {
        kind: 'message';
        message: InboundMessage;
        parsed: Hl7Message | undefined;
        ackTypes: { accept: string | undefined; application: string | undefined };
        controlId: string;
        messageType: string | undefined;
        flags: readonly string[];
        error: PasserelleError | undefined;
      } {
    const o = this.options;
    let parsed: Hl7Message | undefined;
    let parseError: PasserelleError | undefined;
    try {
      parsed = parseHl7(raw, o.defaultCharset !== undefined ? { defaultCharset: o.defaultCharset } : {});
    } catch (e) {
      parseError = isPasserelleError(e)
        ? e
        : new PasserelleError('ERR_HL7_PARSE', 'the message cannot be parsed', { cause: e });
    }
    let key: {
      app: string;
      facility: string;
      controlId: string | undefined;
      messageType: string | undefined;
    };
    let ackTypes: { accept: string | undefined; application: string | undefined };
    if (parsed) {
      const h = parsed.header;
      key = {
        app: parsed.getEncoded('MSH-3') ?? '',
        facility: parsed.getEncoded('MSH-4') ?? '',
        controlId: parsed.getEncoded('MSH-10'),
        messageType: h.messageType,
      };
      ackTypes = { accept: h.acceptAckType, application: h.applicationAckType };
    } else {
      const s = salvageHeader(raw);
      key = {
        app: s?.sendingApplication ?? '',
        facility: s?.sendingFacility ?? '',
        controlId: s?.controlId,
        messageType: s?.messageType,
      };
      ackTypes = { accept: s?.acceptAckType, application: s?.applicationAckType };
    }

    if (key.controlId === undefined) {
      // No MSH-10, no dedupe key: the message cannot be stored exactly once. Refuse it (AR).
      const error =
        parseError ??
        new PasserelleError('ERR_HL7_FIELD_INVALID', 'MSH-10: the message control id is required', {
          details: { hl7Path: 'MSH-10', hl7ErrorCode: '101' },
        });
      // A lone MSH carries no data: load balancers' health checks (deploy/haproxy) send one every
      // second to each instance; refused all the same, but not a warning every second.
      const lines = raw
        .toString('latin1')
        .split(/\r\n?|\n/)
        .filter((l) => l.trim() !== '');
      const probe = lines.length === 1 && lines[0]?.startsWith('MSH') === true;
      o.log[probe ? 'debug' : 'warn']('hl7 message refused: no readable MSH-10', {
        code: error.code,
        messageType: key.messageType,
        bytes: raw.length,
        ...(probe && { probe: true }),
      });
      return {
        kind: 'unreadable',
        result: {
          status: 'unreadable',
          answer: this.answer(raw, parsed, ackTypes, 'reject', error),
          controlId: undefined,
          messageType: key.messageType,
          flags: [],
          error,
        },
      };
    }

    let error = parseError;
    let records: InboundMessage['records'] = [];
    let flags: readonly string[] = [];
    if (parsed) {
      try {
        const t = o.translator.toRecords(parsed, o.context);
        records =
          o.newPractitioners === 'map'
            ? t.records.map((r) => (r.kind === 'Practitioner' ? { ...r, needsMapping: true } : r))
            : t.records;
        flags = t.flags;
      } catch (e) {
        // A translator bug is stored and dead-lettered like a mapping error: replayable once fixed.
        error = isPasserelleError(e)
          ? e
          : new PasserelleError('ERR_INTERNAL', 'the message could not be mapped (translator failure)', {
              cause: e,
            });
      }
    }
    const message: InboundMessage = {
      dedupe: {
        key: `${key.app}|${key.facility}|${key.controlId}`,
        bodyHash: sha256(raw),
        messageType: key.messageType ?? 'unparsed',
        body: raw,
      },
      records,
      ...(error && { error }),
      ...(o.reusedControlId === 'reject' && {
        refuseReusedKey: new PasserelleError(
          'ERR_HL7_REUSED_CONTROL_ID',
          'MSH-10: this control id was already used by another message from the same MSH-3/MSH-4',
          {
            details: { hl7Path: 'MSH-10', hl7ErrorCode: '205' },
          },
        ),
      }),
      respond: (outcome) =>
        this.answer(
          raw,
          parsed,
          ackTypes,
          verdictOf(outcome),
          outcome.status === 'applied' ? undefined : outcome.error,
        ) ?? Buffer.alloc(0),
    };
    return {
      kind: 'message',
      message,
      parsed,
      ackTypes,
      controlId: key.controlId,
      messageType: key.messageType,
      flags,
      error,
    };
  }

  /**
   * The MLLP blocks that answer a message (see ack-policy.ts), or null when none is due.
   * Never throws: this runs inside the engine's transaction, and a failure there would lose
   * the message. If an ACK cannot carry the error text (charset), it goes without it; if the
   * message cannot be answered normally at all, buildRejectAck (which never throws) answers.
   */
  private answer(
    raw: Buffer,
    parsed: Hl7Message | undefined,
    ackTypes: { accept: string | undefined; application: string | undefined },
    verdict: AckVerdict,
    error: PasserelleError | undefined,
  ): Buffer | null {
    const codes = acknowledgmentCodes(ackTypes.accept, ackTypes.application, verdict);
    if (codes.length === 0) return null;
    const options: AckOptions = {
      controlId: newAckControlId(),
      timestamp: this.timestamp(),
      sendingApplication: this.options.sendingApplication,
      sendingFacility: this.options.sendingFacility,
    };
    const blocks = codes.map((code) =>
      encodeFrame(
        this.ackBytes(raw, parsed, code, error, {
          ...options,
          controlId: codes.length > 1 ? newAckControlId() : options.controlId,
        }),
      ),
    );
    return blocks.length === 1 ? (blocks[0] as Buffer) : Buffer.concat(blocks);
  }

  private ackBytes(
    raw: Buffer,
    parsed: Hl7Message | undefined,
    code: AckCode,
    error: PasserelleError | undefined,
    options: AckOptions,
  ): Buffer {
    const positive = code === 'AA' || code === 'CA';
    const err: AckError | undefined = !positive && error ? ackErrorOf(error) : undefined;
    const rejectCode = code === 'AE' || code === 'CE' || code === 'CR' ? code : 'AR';
    const attempts: (() => Buffer)[] = parsed
      ? [
          () => buildAck(parsed, { code, ...(err && { error: err }) }, options).bytes,
          // The error text may hold a character the message's charset cannot carry.
          () => buildAck(parsed, { code, ...(err && { error: withoutText(err) }) }, options).bytes,
        ]
      : [];
    for (const attempt of attempts) {
      try {
        return attempt();
      } catch {
        // next, plainer attempt
      }
    }
    return buildRejectAck(raw, { code: rejectCode, error: err ?? { hl7ErrorCode: '207' } }, options).bytes;
  }
}
