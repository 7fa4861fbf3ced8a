/**
 * Golden feeds: for the fixed agenda of ical-agenda.ts at testClock()'s instant, each feed must
 * be byte-for-byte test/fixtures/ical/<name>.ics, from the SQLite and the PostgreSQL store alike.
 * After an intended change of output, regenerate with UPDATE_GOLDEN=1 and review the diff.
 */
import { writeFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { IcalConfig } from '../../src/config/schema.js';
import { FeedService } from '../../src/ical/feed-service.js';
import { createFeedToken } from '../../src/ical/tokens.js';
import { createLogger } from '../../src/log/logger.js';
import type { IcalPrivacy } from '../../src/store/types.js';
import { fixturePath, readFixture } from '../helpers/fixtures.js';
import { parseFeed, seedAgenda } from '../helpers/ical-agenda.js';
import { openTestStore, STORE_KINDS, testClock, type TestStore } from '../helpers/stores.js';

const FEEDS: ReadonlyArray<{
  file: string;
  practiceId: string;
  practitionerId: string | null;
  privacy: IcalPrivacy;
  events: number;
}> = [
  { file: 'marie-busy.ics', practiceId: 'cab-test', practitionerId: 'pr-marie', privacy: 'busy', events: 13 },
  {
    file: 'marie-initials.ics',
    practiceId: 'cab-test',
    practitionerId: 'pr-marie',
    privacy: 'initials',
    events: 13,
  },
  { file: 'marie-full.ics', practiceId: 'cab-test', practitionerId: 'pr-marie', privacy: 'full', events: 13 },
  { file: 'practice-busy.ics', practiceId: 'cab-test', practitionerId: null, privacy: 'busy', events: 14 },
  {
    file: 'reunion-busy.ics',
    practiceId: 'cab-reunion',
    practitionerId: 'pr-reunion',
    privacy: 'busy',
    events: 1,
  },
];

describe.each(STORE_KINDS)('golden iCal feeds (%s store)', (kind) => {
  const clock = testClock();
  let t: TestStore;
  let feeds: FeedService;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    t = await openTestStore(kind, { now: clock });
    await seedAgenda(t.store, clock);
    for (const f of FEEDS) {
      const { token } = await createFeedToken(
        t.store,
        { practiceId: f.practiceId, practitionerId: f.practitionerId, privacy: f.privacy },
        { id: 'cli', role: 'cli', via: 'cli' },
      );
      secrets.set(f.file, token);
    }
    feeds = new FeedService(t.store, IcalConfig.parse({}), createLogger({ silent: true }));
  });
  afterAll(async () => {
    await t.dispose();
  });

  it.each(FEEDS)('renders $file byte for byte', async ({ file, events }) => {
    const feed = await feeds.resolve(secrets.get(file) as string);
    if (!feed) throw new Error('token did not resolve');
    const body = await feeds.body(feed, feeds.state(feed));
    const text = body.identity.toString('utf8');
    if (process.env['UPDATE_GOLDEN'] === '1' && kind === 'sqlite')
      writeFileSync(fixturePath('ical', file), text);
    expect(parseFeed(text).events).toHaveLength(events);
    expect(text).toBe(readFixture('ical', file));
  });
});
