/**
 * A wall clock that runs ahead or behind, for a whole process (`node --import` of this file,
 * before anything else): what a host whose clock drifted shows its programs. `Date.now()` and
 * `new Date()` read the real clock plus an offset in milliseconds, taken from the file named by
 * SKEWED_CLOCK_FILE (not PASSERELLE_*: the service refuses unknown PASSERELLE_ variables) at
 * start and read again on SIGUSR2, so a test can skew a running
 * instance. Monotonic time (`performance.now()`, timers) is untouched, as on a real host.
 * Plain JavaScript: it loads before tsx registers. Every change is written to stderr, so a test
 * waits for the line rather than guessing when the signal was handled.
 */
import { readFileSync } from 'node:fs';

const RealDate = Date;
const file = process.env['SKEWED_CLOCK_FILE'];
let offsetMs = 0;

function readOffset() {
  if (!file) return;
  let text = '0';
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    // no file: the real clock
  }
  offsetMs = Number(text) || 0;
  process.stderr.write(`test clock: offset ${offsetMs} ms\n`);
}

/** `Date` with the offset: new instances are real Dates, so `instanceof` and methods are the real ones. */
function SkewedDate(...args) {
  if (new.target === undefined) return new RealDate(RealDate.now() + offsetMs).toString();
  return args.length === 0 ? new RealDate(RealDate.now() + offsetMs) : new RealDate(...args);
}
SkewedDate.prototype = RealDate.prototype;
SkewedDate.now = () => RealDate.now() + offsetMs;
SkewedDate.parse = RealDate.parse;
SkewedDate.UTC = RealDate.UTC;
globalThis.Date = SkewedDate;

readOffset();
process.on('SIGUSR2', readOffset);
