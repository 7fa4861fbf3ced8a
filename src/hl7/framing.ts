/**
 * MLLP framing (HL7 v2 Transport Specification: MLLP, release 2, §1.4 "Block format"):
 *
 *     <SB> payload <EB><CR>        SB = 0x0B (VT), EB = 0x1C (FS), CR = 0x0D
 *
 * TCP delivers a byte stream, not blocks: one chunk may hold half a block, one byte, or several
 * blocks. `MllpDecoder` turns chunks into events whatever the chunking (a property test feeds
 * the same stream cut at random places and expects the same events):
 *
 * - `message`: a complete block's payload;
 * - `oversize`: a complete block longer than `maxMessageBytes`; only its first `headBytes` are
 *   kept (to read its MSH for the reject ACK), the rest is dropped as it arrives — memory stays
 *   bounded;
 * - `unterminated`: a new <SB> arrived before the <EB> of the current block, or the stream
 *   ended inside a block: the sender gave up on that block (or lost bytes); the part kept is
 *   reported (its head only if it was already too long), then the new block starts;
 * - `junk`: bytes outside any block (before the first <SB>, or between blocks). CR and LF
 *   between blocks are tolerated silently: some senders end blocks with <EB><CR><LF>.
 *
 * VT and FS cannot occur inside an HL7 message (they are control characters, and no byte of a
 * UTF-8 multi-byte sequence is below 0x80), so finding them with `indexOf` is exact. An <EB>
 * not followed by <CR> still ends the block (lenient; release 1 senders omit the CR).
 */

export const MLLP_START_BLOCK = 0x0b;
export const MLLP_END_BLOCK = 0x1c;
export const MLLP_CARRIAGE_RETURN = 0x0d;
const LF = 0x0a;

export type MllpEvent =
  | { readonly type: 'message'; readonly payload: Buffer }
  | { readonly type: 'oversize'; readonly head: Buffer; readonly size: number }
  | { readonly type: 'unterminated'; readonly payload: Buffer }
  | { readonly type: 'junk'; readonly bytes: number };

export interface MllpDecoderOptions {
  /** Largest payload accepted, in bytes; larger blocks become `oversize` events. */
  readonly maxMessageBytes: number;
  /** How much of an oversize block to keep for its reject ACK (its MSH). Default 4 KiB. */
  readonly headBytes?: number;
}

/** Wraps one payload in an MLLP block. */
export function encodeFrame(payload: Buffer | Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 3);
  out[0] = MLLP_START_BLOCK;
  out.set(payload, 1);
  out[payload.length + 1] = MLLP_END_BLOCK;
  out[payload.length + 2] = MLLP_CARRIAGE_RETURN;
  return out;
}

/** Splits a byte stream into MLLP events; one decoder per connection. */
export class MllpDecoder {
  private readonly max: number;
  private readonly headBytes: number;
  private inBlock = false;
  private parts: Buffer[] = [];
  /** Bytes of the current block seen so far (kept or not). */
  private size = 0;
  private kept = 0;
  private oversize = false;
  /** The last chunk ended right after an <EB>: a leading <CR> in the next one belongs to it. */
  private expectCr = false;
  private junk = 0;

  constructor(options: MllpDecoderOptions) {
    this.max = options.maxMessageBytes;
    this.headBytes = Math.min(options.headBytes ?? 4096, options.maxMessageBytes);
  }

  /** Bytes of a block in progress (0 between blocks). */
  get pending(): number {
    return this.inBlock ? this.size : 0;
  }

  push(chunk: Buffer): MllpEvent[] {
    const events: MllpEvent[] = [];
    let i = 0;
    const n = chunk.length;
    if (this.expectCr && n > 0) {
      this.expectCr = false;
      if (chunk[0] === MLLP_CARRIAGE_RETURN) i = 1;
    }
    while (i < n) {
      if (!this.inBlock) {
        const start = chunk.indexOf(MLLP_START_BLOCK, i);
        const stop = start === -1 ? n : start;
        for (let k = i; k < stop; k++) {
          const b = chunk[k];
          if (b !== MLLP_CARRIAGE_RETURN && b !== LF) this.junk++;
        }
        if (start === -1) break;
        this.flushJunk(events);
        this.begin();
        i = start + 1;
        continue;
      }
      const end = chunk.indexOf(MLLP_END_BLOCK, i);
      const restart = chunk.indexOf(MLLP_START_BLOCK, i);
      if (restart !== -1 && (end === -1 || restart < end)) {
        this.append(chunk, i, restart);
        events.push(this.unterminatedEvent());
        this.begin();
        i = restart + 1;
        continue;
      }
      if (end === -1) {
        this.append(chunk, i, n);
        break;
      }
      this.append(chunk, i, end);
      events.push(this.oversize ? this.oversizeEvent() : { type: 'message', payload: this.take() });
      this.inBlock = false;
      i = end + 1;
      if (i === n) this.expectCr = true;
      else if (chunk[i] === MLLP_CARRIAGE_RETURN) i++;
    }
    this.flushJunk(events);
    return events;
  }

  /**
   * The connection ended: a block in progress was cut short (the sender got no ACK for it and
   * will send it again). Returns it as `unterminated`, then resets.
   */
  end(): MllpEvent[] {
    const events: MllpEvent[] = [];
    this.flushJunk(events);
    if (this.inBlock) {
      events.push(this.unterminatedEvent());
      this.inBlock = false;
    }
    return events;
  }

  private begin(): void {
    this.inBlock = true;
    this.parts = [];
    this.size = 0;
    this.kept = 0;
    this.oversize = false;
  }

  private append(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    const len = to - from;
    this.size += len;
    if (!this.oversize && this.size > this.max) this.oversize = true;
    // Past the limit, keep only the head (for the reject ACK); drop the rest as it comes.
    const room = this.oversize ? Math.max(0, this.headBytes - this.kept) : len;
    if (room > 0) {
      const part = chunk.subarray(from, from + Math.min(room, len));
      this.parts.push(part);
      this.kept += part.length;
    }
  }

  private take(): Buffer {
    const out = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.kept);
    this.parts = [];
    this.size = 0;
    this.kept = 0;
    return out;
  }

  /**
   * A block cut short. Past the limit only its head is reported, and always exactly
   * `headBytes` of it: bytes kept before the block turned oversize (it was still within the
   * limit when they came) must not make the event depend on how the stream was chunked.
   */
  private unterminatedEvent(): MllpEvent {
    const oversize = this.oversize;
    const all = this.take();
    return { type: 'unterminated', payload: oversize ? all.subarray(0, this.headBytes) : all };
  }

  private oversizeEvent(): MllpEvent {
    const size = this.size;
    const all = this.take();
    return { type: 'oversize', head: all.subarray(0, this.headBytes), size };
  }

  private flushJunk(events: MllpEvent[]): void {
    if (this.junk > 0) {
      events.push({ type: 'junk', bytes: this.junk });
      this.junk = 0;
    }
  }
}
