/** iCal feeds: rendering and tokens (the service module is src/app/features/ical.ts). See docs/ical.md. */
export { FeedService, type FeedBody, type FeedState, type ResolvedFeed } from './feed-service.js';
export { FeedRenderer, feedWindow, loadFeedData, type FeedData, type FeedSettings, type FeedWindow, type RenderedFeed } from './feed.js';
export { feedUrl, generateFeedToken, hashFeedToken, isWellFormedFeedToken, FEED_TOKEN_PREFIX } from './feed-token.js';
export {
  createFeedToken,
  feedTokenStatus,
  feedTokenView,
  revokeFeedToken,
  rotateFeedToken,
  updateFeedToken,
  type CreateFeedTokenInput,
  type FeedTokenActor,
  type FeedTokenPatch,
  type FeedTokenStatus,
  type FeedTokenView,
  type IssuedFeedToken,
} from './tokens.js';
export { SUPPORTED_ZONES, vtimezone } from './timezones.js';
