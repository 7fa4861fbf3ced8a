/** iCal feeds: rendering and tokens (the service module is src/app/features/ical.ts). See docs/ical.md. */
export {
  type FeedData,
  FeedRenderer,
  type FeedSettings,
  type FeedWindow,
  feedWindow,
  loadFeedData,
  type RenderedFeed,
} from './feed.js';
export { type FeedBody, FeedService, type FeedState, type ResolvedFeed } from './feed-service.js';
export {
  FEED_TOKEN_PREFIX,
  feedUrl,
  generateFeedToken,
  hashFeedToken,
  isWellFormedFeedToken,
} from './feed-token.js';
export { SUPPORTED_ZONES, vtimezone } from './timezones.js';
export {
  createFeedToken,
  type CreateFeedTokenInput,
  type FeedTokenActor,
  type FeedTokenPatch,
  type FeedTokenStatus,
  feedTokenStatus,
  type FeedTokenView,
  feedTokenView,
  type IssuedFeedToken,
  revokeFeedToken,
  rotateFeedToken,
  updateFeedToken,
} from './tokens.js';
