/**
 * An appointment whose end cannot be derived (no end, no duration, no appointment-type
 * duration) but whose start is known: issue 18's rule is to keep it with an **assumed** end
 * rather than refuse it (only a missing start refuses an appointment). The end is start + a
 * documented default: the profile's `defaultDurationMinutes`, else this product default. The
 * record carries the flag `appointment-end-assumed` so what was assumed is said.
 */

/** Product default length of an appointment whose length nothing gives (a short consultation). */
export const DEFAULT_APPOINTMENT_MINUTES = 15;
/** Flag on an appointment whose end passerelle assumed. */
export const END_ASSUMED_FLAG = 'appointment-end-assumed';

/**
 * Sets `end` = start + `minutes` on appointment data that has a start and no end (FHIR R4
 * app-2: start and end go together, whatever the status). Returns whether it did; data without
 * a readable start is left alone (a missing start still refuses).
 */
export function assumeEnd(
  data: Record<string, unknown>,
  minutes: number = DEFAULT_APPOINTMENT_MINUTES,
): boolean {
  const start = data['start'];
  if (typeof start !== 'string' || data['end'] !== undefined) return false;
  const ms = Date.parse(start);
  if (Number.isNaN(ms) || !Number.isFinite(minutes) || minutes <= 0) return false;
  data['end'] = new Date(ms + minutes * 60_000).toISOString();
  return true;
}
