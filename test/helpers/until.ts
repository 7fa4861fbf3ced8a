export interface UntilOptions {
  /** Pause between checks (ms). */
  readonly everyMs?: number;
  /** Keep polling when `check` throws (a server still starting); the last error is reported. */
  readonly tolerateErrors?: boolean;
}

/**
 * Polls `check` until it returns a value (not undefined/false), failing after `ms`: a bounded
 * wait on an event, never a fixed sleep. The one wait helper of the test suite.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 20_000,
  options: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + ms;
  const everyMs = options.everyMs ?? 25;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (!options.tolerateErrors) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      const cause = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${ms} ms waiting for ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `until` with other defaults, for a file whose waits all share them. */
export function untilWith(defaults: UntilOptions & { readonly ms?: number }) {
  return <T>(
    what: string,
    check: () => Promise<T | undefined | false> | T | undefined | false,
    ms = defaults.ms ?? 20_000,
  ) => until(what, check, ms, defaults);
}
