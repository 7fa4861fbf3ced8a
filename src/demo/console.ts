/**
 * What the demo's console says of a warning or an error the service logs (issue 19): the console
 * speaks French, so a JSON log line (English, for IT staff) stays in the log file and the console
 * gets one French line. The keys a first start creates are not a warning in a demo: they are a
 * note of where the demo keeps them.
 */

/** A JSON log line (winston) as the demo's logger writes it. */
export interface LogEntry {
  readonly level?: string;
  readonly message?: string;
  readonly [key: string]: unknown;
}

export interface ConsoleLine {
  /** `note`: part of a normal start (stdout); `warning`: something went wrong (stderr). */
  readonly kind: 'note' | 'warning';
  readonly text: string;
}

/**
 * The French console line for a warning or error log entry (`logFile` is where its JSON is), or
 * undefined for what stays in the log file only: a scheduled run skipped because the previous
 * one still runs (node-cron's overlap prevention), usual on a busy machine and harmless.
 */
export function consoleLineOf(entry: LogEntry, logFile: string): ConsoleLine | undefined {
  const message = entry.message ?? '';
  if (message === 'node-cron' && /overlap/.test(String(entry['detail'] ?? ''))) return undefined;
  if (message.startsWith('generated an encryption key'))
    return {
      kind: 'note',
      text: `clé de chiffrement des identifiants créée pour la démonstration : ${String(entry['keyFile'] ?? '')} (en production : security.encryptionKey)`,
    };
  if (message.startsWith('generated an audit key'))
    return {
      kind: 'note',
      text: `clé du journal d'audit créée pour la démonstration : ${String(entry['keyPath'] ?? '')} (en production : audit.key)`,
    };
  if (message === 'demo event failed')
    return {
      kind: 'warning',
      text: `attention : une action de la démonstration a échoué (${String(entry['action'] ?? '?')}) ; détails dans ${logFile}`,
    };
  const what = entry.level === 'error' ? 'erreur' : 'avertissement';
  return {
    kind: 'warning',
    text: `attention : ${what} de passerelle (« ${message} ») ; détails dans ${logFile}`,
  };
}
