/**
 * The feed behind `GET /ical/<token>.ics`: token lookup, the validators (ETag, Last-Modified)
 * computed without rendering, and bodies rendered once per ETag and kept compressed.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import type { ChangeCounter, IcalPrivacy, IcalToken, Practice } from '../store/types.js';
import { VERSION } from '../util/version.js';
import { effectivePrivacy } from './event-content.js';
import { FeedRenderer, type FeedSettings, type FeedWindow, feedWindow, loadFeedData } from './feed.js';
import { hashFeedToken, isWellFormedFeedToken } from './feed-token.js';
import { LruCache } from './lru.js';
import { feedTokenStatus } from './tokens.js';

const gzip = promisify(gzipCb);

/** Bump when the rendered text changes shape, so every cached copy is fetched again after an upgrade. */
export const FEED_FORMAT = '1';

/** A token's `lastUsedAt` is written at most this often (each write is a durable commit). */
const TOUCH_EVERY_MS = 3_600_000;

export interface FeedServiceSettings extends FeedSettings {
  readonly bodyCacheMb: number;
}

export interface ResolvedFeed {
  readonly token: IcalToken;
  readonly practice: Practice;
  readonly counter: ChangeCounter | undefined;
}

/** The validators of a feed's current content, computed from ids and counters only. */
export interface FeedState {
  /** Weak (RFC 9110 §8.8.1): the gzip and identity bytes of one content share it. */
  readonly etag: string;
  readonly lastModifiedMs: number;
  readonly window: FeedWindow;
  readonly privacy: IcalPrivacy;
}

export interface FeedBody {
  readonly etag: string;
  readonly identity: Buffer;
  readonly gzip: Buffer;
  readonly events: number;
  readonly patients: number;
  readonly truncated: number;
}

export class FeedService {
  readonly renderer: FeedRenderer;
  private readonly bodies: LruCache<string, FeedBody>;
  private readonly inflight = new Map<string, Promise<FeedBody>>();
  private readonly settingsFingerprint: string;
  /** Today's window per zone: Luxon zone arithmetic would otherwise be most of a 304's cost. */
  private readonly windows = new Map<string, FeedWindow>();

  constructor(
    private readonly store: Store,
    private readonly settings: FeedServiceSettings,
    private readonly logger: Logger,
  ) {
    this.renderer = new FeedRenderer(settings);
    this.bodies = new LruCache(settings.bodyCacheMb * 1024 * 1024, (b) => b.identity.length + b.gzip.length);
    this.settingsFingerprint = JSON.stringify([
      settings.windowPastDays,
      settings.windowFutureDays,
      settings.cancelledRetentionDays,
      settings.refreshMinutes,
      settings.maxEvents,
    ]);
  }

  /**
   * The token's feed if the secret names an active token, else null — malformed, unknown,
   * revoked and expired all look the same to the caller (and so to whoever is guessing).
   */
  async resolve(secret: string): Promise<ResolvedFeed | null> {
    if (!isWellFormedFeedToken(secret)) return null;
    // One query for token, practice and change counter. The counter is read before the records:
    // a body rendered afterwards is at least as new as the ETag built from it says.
    const found = await this.store.icalTokens.findFeedByHash(hashFeedToken(secret));
    if (!found || feedTokenStatus(found.token, this.store.now()) !== 'active') return null;
    return found;
  }

  state(feed: ResolvedFeed): FeedState {
    const { token, practice, counter } = feed;
    const window = this.windowFor(practice.timezone);
    const privacy = effectivePrivacy(token);
    // The ETag changes when anything the text depends on does: a record of the practice (the
    // counter), the feed's settings (token version), the practice's name or zone (its
    // version), the day (the window moves), the configuration, the output format.
    const digest = createHash('sha256')
      .update(
        JSON.stringify([
          FEED_FORMAT,
          VERSION,
          token.id,
          token.version,
          practice.version,
          window.day,
          this.settingsFingerprint,
        ]),
      )
      .digest('base64url')
      .slice(0, 16);
    const lastModifiedMs = Math.max(
      counter ? Date.parse(counter.updatedAt) : 0,
      Date.parse(practice.updatedAt),
      Date.parse(token.updatedAt),
      window.dayStartMs,
    );
    return { etag: `W/"${counter?.seq ?? 0}-${digest}"`, lastModifiedMs, window, privacy };
  }

  private windowFor(zone: string): FeedWindow {
    const now = this.store.now();
    const hit = this.windows.get(zone);
    if (hit && now >= hit.dayStartMs && now < hit.nextDayStartMs) return hit;
    const window = feedWindow(now, zone, this.settings);
    this.windows.set(zone, window);
    return window;
  }

  /** Rendered once per ETag: concurrent requests share one render, later ones the cached bytes. */
  body(feed: ResolvedFeed, state: FeedState): Promise<FeedBody> {
    const cached = this.bodies.get(feed.token.id);
    if (cached?.etag === state.etag) return Promise.resolve(cached);
    const key = `${feed.token.id} ${state.etag}`;
    let running = this.inflight.get(key);
    if (!running) {
      running = this.renderBody(feed, state).finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  private async renderBody(feed: ResolvedFeed, state: FeedState): Promise<FeedBody> {
    const started = performance.now();
    const data = await loadFeedData(this.store, feed.token, feed.practice, state.window, state.privacy);
    const rendered = await this.renderer.render(data, state.window, state.privacy);
    const identity = Buffer.from(rendered.text, 'utf8');
    // zlib runs on the thread pool: a 3 MB feed does not block other requests.
    const body: FeedBody = {
      etag: state.etag,
      identity,
      gzip: await gzip(identity),
      events: rendered.events,
      patients: rendered.patients,
      truncated: rendered.truncated,
    };
    this.bodies.set(feed.token.id, body);
    if (rendered.truncated > 0) {
      this.logger.warn('ical feed truncated at maxEvents', {
        icalToken: feed.token.id,
        practiceId: feed.practice.id,
        events: rendered.events,
        leftOut: rendered.truncated,
      });
    }
    this.logger.debug('ical feed rendered', {
      icalToken: feed.token.id,
      events: rendered.events,
      bytes: identity.length,
      ms: Math.round(performance.now() - started),
    });
    return body;
  }

  /** Records that the feed was fetched, for "expire after N days unused" — at most once an hour. */
  async recordUse(token: IcalToken): Promise<void> {
    const now = this.store.now();
    if (token.lastUsedAt !== null && Date.parse(token.lastUsedAt) > now - TOUCH_EVERY_MS) return;
    await this.store.icalTokens.touch(token.id);
  }

  /** Forgets every cached body (tests, and after a configuration change). */
  clearBodies(): void {
    this.bodies.clear();
  }
}
