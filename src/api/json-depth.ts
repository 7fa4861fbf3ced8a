/**
 * A nesting limit for parsed JSON bodies. `JSON.parse` copes with deep nesting, but code after
 * it walks values recursively and a few thousand levels overflow its stack (a link `config`
 * 5,000 deep made POST /api/v1/links answer 500). No body of this API needs more than a dozen
 * levels, so anything past the limit is refused as a bad request before a handler runs.
 */
import type { NextFunction, Request, Response } from 'express';

import { PasserelleError } from '../errors.js';

export const MAX_JSON_DEPTH = 64;

/** The depth of a parsed JSON value (a scalar is 0), walked without recursion; stops past `limit`. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > limit) return true;
    for (const child of Array.isArray(item.value) ? item.value : Object.values(item.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}

/** Express middleware, after `express.json()`: 400 ERR_VALIDATION for a body nested too deep. */
export function limitJsonDepth(limit = MAX_JSON_DEPTH) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    next(
      jsonDepthExceeds(req.body, limit)
        ? new PasserelleError('ERR_VALIDATION', `body: nested deeper than ${limit} levels`)
        : undefined,
    );
  };
}
