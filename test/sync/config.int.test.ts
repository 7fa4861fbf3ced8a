/** The config file's `sync:` section reaches the running dispatcher (whole service, real store). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { syncModule } from '../../src/app/features/sync.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe('sync settings from the configuration', () => {
  const sync = syncModule({ runtime: { autoDispatch: false, schedulePolls: false } });
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({
      modules: [sync],
      env: {
        PASSERELLE_SYNC_MAX_ATTEMPTS: '3',
        PASSERELLE_SYNC_RETRY_BASE_MS: '250',
        PASSERELLE_SYNC_RETRY_CAP_MS: '4000',
        PASSERELLE_SYNC_PUSH_TIMEOUT_MS: '2000',
        PASSERELLE_SYNC_OUTBOX_LEASE_MS: '7000',
      },
    });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('runs the dispatcher with the attempts, retry waits, push timeout and outbox lease the configuration sets', () => {
    expect(sync.runtimeOf(t.service.context).dispatcher.tuning).toMatchObject({
      maxAttempts: 3,
      backoff: { baseMs: 250, capMs: 4000 },
      pushTimeoutMs: 2000,
      leaseMs: 7000,
    });
  });
});
