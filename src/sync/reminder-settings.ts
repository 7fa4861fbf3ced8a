/**
 * A practice's reminder rules (`settings.reminders`, issue 21 point 3): checked as a whole when
 * the practice is written (ERR_VALIDATION naming every `body.settings.reminders.*` problem, the
 * practice unchanged), read with their defaults by the daily pass. The schema lives with the
 * rest of the configuration (src/config/schema.ts, PracticeReminderSettings).
 */
import { PracticeReminderSettings } from '../config/schema.js';
import { PasserelleError } from '../errors.js';
import type { JsonObject } from '../store/types.js';

export type ReminderSettings = PracticeReminderSettings;

/** Throws ERR_VALIDATION when `settings.reminders` is present and malformed; returns it as given. */
export function checkReminderSettings(settings: JsonObject): JsonObject {
  const raw = settings['reminders'];
  if (raw === undefined || raw === null) return settings;
  const parsed = PracticeReminderSettings.safeParse(raw);
  if (parsed.success) return settings;
  const issues = parsed.error.issues.map((i) => ({
    path: ['body', 'settings', 'reminders', ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw new PasserelleError('ERR_VALIDATION', `${issues[0]?.path}: ${issues[0]?.message}`, { issues });
}

/**
 * The practice's rules with defaults. Stored settings that no longer parse (written before a
 * rule tightened) give ERR_REMINDERS_CONFIG: the practice's pass is then skipped, never run
 * with guessed rules.
 */
export function reminderSettingsOf(settings: JsonObject): {
  settings: ReminderSettings | null;
  error: PasserelleError | null;
} {
  const parsed = PracticeReminderSettings.safeParse(settings['reminders'] ?? {});
  if (parsed.success) return { settings: parsed.data, error: null };
  return {
    settings: null,
    error: new PasserelleError('ERR_REMINDERS_CONFIG', 'settings.reminders is malformed', {
      issues: parsed.error.issues.map((i) => ({
        path: ['settings', 'reminders', ...i.path.map(String)].join('.'),
        message: i.message,
      })),
    }),
  };
}

/** The lead time of a visit type: its own, else the default; null when it is never reminded. */
export function leadDaysOf(s: ReminderSettings, visitType: string | null): number | null {
  const own = visitType === null ? undefined : s.visitTypes[visitType]?.leadDays;
  return own === undefined ? s.defaultLeadDays : own;
}
