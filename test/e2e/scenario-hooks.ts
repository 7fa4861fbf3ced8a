/**
 * What every scenario file does with the e2e world (./world.ts): one world per file, started
 * before its tests and disposed of after, and the outbox depth of a link as the admin API shows it.
 */
import { afterAll, beforeAll } from '@jest/globals';

import { startWorld, type World } from './world.js';

/** Starts one world for the file's tests (call it in the describe block); returns a getter. */
export function worldPerFile(): () => World {
  let w: World | undefined;
  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  }, 30_000);
  return () => {
    if (w === undefined) throw new Error('the e2e world did not start');
    return w;
  };
}

/** Changes waiting for a link (pending or being sent), from GET /api/v1/links/:id/status. */
export async function outboxWaiting(w: World, linkId: string): Promise<number> {
  const { outbox } = await w.linkStatus(linkId);
  return (outbox['pending'] ?? 0) + (outbox['leased'] ?? 0);
}
