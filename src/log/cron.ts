/** node-cron logs through console by default (shared/libraries.md §5): every schedule gets ours. */
import type { Logger } from './logger.js';

/** node-cron's logger interface, routed to ours. */
export function cronLogger(log: Logger) {
  const text = (m: string | Error) => (typeof m === 'string' ? m : m.message);
  return {
    info: (m: string) => log.debug('node-cron', { detail: m }),
    warn: (m: string) => log.warn('node-cron', { detail: m }),
    error: (m: string | Error, err?: Error) =>
      log.error('node-cron', { detail: text(m), ...(err && { err }) }),
    debug: (m: string | Error, err?: Error) =>
      log.debug('node-cron', { detail: text(m), ...(err && { err }) }),
  };
}
