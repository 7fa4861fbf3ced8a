/**
 * The seam between the HL7 v2 transport (MLLP, file drop) and the mapping between HL7 messages
 * and the canonical model. The transport never reads a business field: it parses (codec), hands
 * the message to a translator, and acknowledges what the engine committed.
 *
 * The product translator comes from the link's mapping profile (`link.profile`, the mapping
 * engine, mappings/*.yaml); the tests run it too, with the shipped profiles.
 *
 * Errors a translator throws are `PasserelleError`s whose message is safe to send to the peer
 * (it names fields, never values) and whose details may say where and what, for the ERR
 * segment of the ACK: `details.hl7Path` (an HL7 path such as `PID-3` or `SCH-11.4`) and
 * `details.hl7ErrorCode` (HL7 table 0357). Helpers below build the common ones.
 */
import type { ExternalRecord, OutboundChange } from '../../src/connector/contract.js';
import { type ErrorCode, PasserelleError } from '../../src/errors.js';
import {
  type AckError,
  HL7_ERROR_CODES,
  type Hl7Charset,
  type Hl7ErrorCode,
  type Hl7Message,
  toHl7Path,
} from '../../src/hl7/index.js';

/** What a translator knows about the link it works for. */
export interface Hl7TranslatorContext {
  readonly linkId: string;
  readonly practiceId: string;
  /** The link's mapping profile name (`link.profile`), or null for the default one. */
  readonly profile: string | null;
  /** The practice's IANA zone: HL7 times without an offset are wall-clock times there. */
  readonly timezone: string;
  /** A test link accepts INS test and demo OIDs. */
  readonly testLink: boolean;
  readonly now: () => number;
}

/** What `fromChange` needs to write the MSH of an outbound message. */
export interface Hl7OutboundContext extends Hl7TranslatorContext {
  /**
   * MSH-10 to write. Derived from the change's idempotency key, so a message sent again after a
   * timeout carries the same control id and the peer can recognise the resend.
   */
  readonly controlId: string;
  /** MSH-7, in `timezone`. */
  readonly timestamp: Date;
  /** MSH-3 / MSH-4: passerelle as the link names it. */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  /** Character set the link agreed on (MSH-18 is the translator's to write). */
  readonly charset: Hl7Charset;
}

export interface Hl7InboundTranslation {
  /** Canonical records in the peer's ids, in the order the engine must apply them. */
  readonly records: readonly ExternalRecord[];
  /** Notes on what was skipped or assumed (ids and words only): logged with the message id. */
  readonly flags: readonly string[];
}

export type Hl7OutboundTranslation =
  | {
      /** The whole message (SIU, ADT, MDM…), encoded in `ctx.charset`, without MLLP framing. */
      readonly message: Buffer;
      /**
       * The id the peer will know the record by, when the message gives it one (a placer
       * appointment id in SCH-1…). Default: the change's external id, else its canonical id.
       */
      readonly externalId?: string;
      /** MSH-9 of the message (logged). */
      readonly messageType?: string;
    }
  | {
      /** Nothing to send: the profile keeps this record from syncing (its filters), and why. */
      readonly skipped: string;
    };

export interface Hl7Translator {
  /**
   * Loads what the translator needs before the first message (the link's mapping plan). A
   * typed error (ERR_CONNECTOR_CONFIG_INVALID) keeps the link from starting.
   */
  start?(): Promise<void>;
  /** Reads the mapping again (before a replay maps a stored message with the current profile). */
  refresh?(): Promise<void>;
  stop?(): Promise<void>;
  /**
   * Maps one parsed inbound message. Throws typed errors: `ERR_HL7_UNSUPPORTED_MESSAGE` for a
   * type, event or version the profile does not take (answered AR), any other PasserelleError
   * for a field that is missing or wrong (answered AE, the message is dead-lettered).
   */
  toRecords(message: Hl7Message, ctx: Hl7TranslatorContext): Hl7InboundTranslation;
  /** Builds the outbound message for one change; throws ERR_HL7_UNSUPPORTED_MESSAGE if it has none. */
  fromChange(change: OutboundChange, ctx: Hl7OutboundContext): Hl7OutboundTranslation;
}

/** A field missing or invalid for the mapping (answered AE; ERR-2 names `path`). */
export function hl7FieldError(
  path: string,
  problem: string,
  hl7ErrorCode: Hl7ErrorCode = '101',
): PasserelleError {
  return new PasserelleError('ERR_HL7_FIELD_INVALID', `${path}: ${problem}`, {
    details: { hl7Path: path, hl7ErrorCode },
  });
}

/** A message the link does not take (answered AR): 200 type, 201 event, 202 processing id, 203 version. */
export function unsupportedMessage(
  what: 'type' | 'event' | 'processing id' | 'version',
  shown: string | undefined,
): PasserelleError {
  const at = {
    type: ['MSH-9', '200'],
    event: ['MSH-9.2', '201'],
    'processing id': ['MSH-11', '202'],
    version: ['MSH-12', '203'],
  } as const;
  const [path, code] = at[what];
  return new PasserelleError(
    'ERR_HL7_UNSUPPORTED_MESSAGE',
    `unsupported message ${what}${shown ? ` ${shown.slice(0, 20)}` : ''}`,
    { details: { hl7Path: path, hl7ErrorCode: code } },
  );
}

const DEFAULT_0357: Partial<Record<ErrorCode, Hl7ErrorCode>> = {
  ERR_HL7_PARSE: '100',
  ERR_HL7_CHARSET: '102',
  ERR_HL7_PATH_INVALID: '207',
  ERR_HL7_UNSUPPORTED_MESSAGE: '200',
  ERR_HL7_FIELD_INVALID: '101',
  ERR_HL7_REUSED_CONTROL_ID: '205',
  ERR_MODEL_INVALID: '102',
  ERR_SYNC_UNKNOWN_REFERENCE: '204',
  ERR_MLLP_TOO_LARGE: '207',
};

/** ERR-8 is TX; keep it short. */
const MAX_ERR_TEXT = 250;

/**
 * The ERR content for an error: ERR-2 from `details.hl7Path` (if it is a valid path), ERR-3 from
 * `details.hl7ErrorCode` or the error's code, ERR-8 the error's message (PHI-free by contract)
 * and its catalogue code.
 */
export function ackErrorOf(e: PasserelleError): AckError {
  const detailCode = e.details['hl7ErrorCode'];
  const hl7ErrorCode: Hl7ErrorCode =
    typeof detailCode === 'string' && detailCode in HL7_ERROR_CODES
      ? (detailCode as Hl7ErrorCode)
      : (DEFAULT_0357[e.code] ?? '207');
  let path: string | undefined;
  const p = e.details['hl7Path'];
  if (typeof p === 'string') {
    try {
      toHl7Path(p);
      path = p;
    } catch {
      path = undefined;
    }
  }
  const text = `${e.message} (${e.code})`;
  return {
    hl7ErrorCode,
    ...(path !== undefined && { path }),
    message: text.length > MAX_ERR_TEXT ? `${text.slice(0, MAX_ERR_TEXT - 3)}...` : text,
  };
}
