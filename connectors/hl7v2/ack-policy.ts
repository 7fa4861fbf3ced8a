/**
 * Which acknowledgments answer an inbound message (HL7 v2.5.1 §2.9, tables 0008 and 0155).
 *
 * - **Original mode** (§2.9.2; MSH-15 and MSH-16 both empty): one application ACK, AA / AE / AR.
 * - **Enhanced mode** (§2.9.3; MSH-15 or MSH-16 set): an *accept* ACK (CA / CE / CR: the
 *   message is — or is not — committed to safe storage) under the MSH-15 condition, and an
 *   *application* ACK (AA / AE / AR) under the MSH-16 condition. Conditions (table 0155): AL
 *   always, NE never, ER only on error or reject, SU only on success. An empty MSH-15 or MSH-16
 *   in enhanced mode counts as NE; an unknown value as AL (answering is the safe side).
 *
 * passerelle applies a message inside the very transaction that commits it, so when the accept
 * ACK is due the application outcome is known too. §2.9.3 has the receiver send the application
 * ACK later, as a message of its own; over one MLLP connection we send it right after the accept
 * ACK, on the same connection, both after the commit (a sender matches them by MSA-2). A message
 * that was **not** committed (store unavailable) is always answered, whatever MSH-15 says, so
 * that the sender sends it again: AR in original mode, CE in enhanced mode.
 */
import type { AckCode } from '../../src/hl7/index.js';

/** What happened to a message, in acknowledgment terms. */
export type AckVerdict =
  /** Committed and applied (or a resend of one). */
  | 'applied'
  /** Committed, not applied: mapping or business error (dead letter or refusal). AE. */
  | 'error'
  /** Refused at the door: unparseable, unsupported type/version, oversize, no MSH-10. AR / CR. */
  | 'reject'
  /** Committed, not applied: a reused control id on a link that refuses them. AE / CE. */
  | 'reused'
  /** Not committed (store or runtime unavailable): the sender must send it again. AR / CE. */
  | 'unavailable';

export type AckMode = 'original' | 'enhanced';

export function ackMode(acceptAckType: string | undefined, applicationAckType: string | undefined): AckMode {
  return (acceptAckType ?? '') === '' && (applicationAckType ?? '') === '' ? 'original' : 'enhanced';
}

const APPLICATION: Record<AckVerdict, 'AA' | 'AE' | 'AR'> = {
  applied: 'AA',
  error: 'AE',
  reject: 'AR',
  reused: 'AE',
  unavailable: 'AR',
};
const ACCEPT: Record<AckVerdict, 'CA' | 'CE' | 'CR'> = {
  applied: 'CA',
  error: 'CA',
  reject: 'CR',
  reused: 'CE',
  unavailable: 'CE',
};

/** Table 0155 condition for sending an acknowledgment whose code is `code`. */
function conditionHolds(condition: string | undefined, code: AckCode): boolean {
  const success = code === 'AA' || code === 'CA';
  switch (condition ?? '') {
    case '':
    case 'NE':
      return false;
    case 'ER':
      return !success;
    case 'SU':
      return success;
    default:
      return true; // AL, or a value outside table 0155
  }
}

/**
 * The acknowledgment codes to send, in order (0, 1 or 2 of them), for a message with these
 * MSH-15 / MSH-16 values and this verdict.
 */
export function acknowledgmentCodes(
  acceptAckType: string | undefined,
  applicationAckType: string | undefined,
  verdict: AckVerdict,
): AckCode[] {
  if (ackMode(acceptAckType, applicationAckType) === 'original') return [APPLICATION[verdict]];
  const accept = ACCEPT[verdict];
  const codes: AckCode[] = [];
  if (conditionHolds(acceptAckType, accept) || verdict === 'unavailable') codes.push(accept);
  // The application ACK exists only for messages that reached the application.
  if (
    (verdict === 'applied' || verdict === 'error') &&
    conditionHolds(applicationAckType, APPLICATION[verdict])
  )
    codes.push(APPLICATION[verdict]);
  return codes;
}

/**
 * Whether a message's answer is the same whatever the application does with it: enhanced mode
 * with only an accept ACK due (IHE PAM France's MSH-15 AL, MSH-16 NE). Its accept ACK may then
 * go out once the message is committed, before it is applied (§2.9.3: "committed to safe
 * storage"); original mode (AA/AE) and any application ACK wait for the apply.
 */
export function answerIndependentOfApply(
  acceptAckType: string | undefined,
  applicationAckType: string | undefined,
): boolean {
  if (ackMode(acceptAckType, applicationAckType) === 'original') return false;
  const applied = acknowledgmentCodes(acceptAckType, applicationAckType, 'applied');
  const error = acknowledgmentCodes(acceptAckType, applicationAckType, 'error');
  return (
    applied.length === error.length &&
    applied.every((c, i) => c === error[i]) &&
    !applied.some((c) => c === 'AA' || c === 'AE')
  );
}
