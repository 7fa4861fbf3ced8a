import { AsyncLocalStorage } from 'node:async_hooks';
import type { Writable } from 'node:stream';

import winston from 'winston';

import { redactMeta } from './redact.js';

/** What the current request or job is, so every line it logs can be found together. */
export interface LogContext {
  readonly requestId?: string;
  readonly practiceId?: string;
  readonly linkId?: string;
  readonly connector?: string;
  readonly messageId?: string;
  readonly changeId?: string;
}

const contextStore = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `ctx` merged into the current log context (request id, practice, link…). */
export function withLogContext<T>(ctx: LogContext, fn: () => T): T {
  return contextStore.run({ ...contextStore.getStore(), ...ctx }, fn);
}
export function currentLogContext(): LogContext {
  return contextStore.getStore() ?? {};
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  /** A logger whose lines all carry `fields` (ids only: practiceId, connector, linkId…). */
  child(fields: Record<string, string | number>): Logger;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where JSON lines go; stdout by default. Tests pass a stream to read what was logged. */
  readonly stream?: Writable;
  readonly service?: string;
  /** Disables output entirely (CLI commands that print their own results). */
  readonly silent?: boolean;
}

/**
 * winston with our redaction first in the chain (shared/libraries.md §7: winston itself
 * redacts nothing, and `format.errors` would otherwise copy raw messages and stacks).
 */
const redactFormat = winston.format((info) => {
  const { level, message, ...meta } = info as winston.Logform.TransformableInfo & Record<string, unknown>;
  const ctx = currentLogContext();
  const clean = redactMeta({ ...ctx, ...meta, message });
  const out = { level, ...clean } as winston.Logform.TransformableInfo;
  // winston keeps private symbols (level/splat) on the info object; carry them over.
  for (const sym of Object.getOwnPropertySymbols(info))
    (out as unknown as Record<symbol, unknown>)[sym] = (info as unknown as Record<symbol, unknown>)[sym];
  return out;
});

export function createLogger(options: LoggerOptions = {}): Logger {
  const w = winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    defaultMeta: { service: options.service ?? 'passerelle' },
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [
      options.stream
        ? new winston.transports.Stream({ stream: options.stream })
        : new winston.transports.Console(),
    ],
  });
  return wrap(w);
}

function wrap(w: winston.Logger): Logger {
  // winston filters levels only after its stream machinery has taken the line: a line below
  // the level (the HL7 receiver's info line per message, at level warn) is dropped here instead.
  return {
    error: (m, meta) => void (w.isErrorEnabled() && w.error(m, meta ?? {})),
    warn: (m, meta) => void (w.isWarnEnabled() && w.warn(m, meta ?? {})),
    info: (m, meta) => void (w.isInfoEnabled() && w.info(m, meta ?? {})),
    debug: (m, meta) => void (w.isDebugEnabled() && w.debug(m, meta ?? {})),
    child: (fields) => wrap(w.child(fields)),
  };
}

/** A logger that drops everything, for unit tests and library callers that pass none. */
export const silentLogger: Logger = createLogger({ silent: true });
