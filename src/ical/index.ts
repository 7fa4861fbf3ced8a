/** iCal feeds: rendering, tokens, the service module. See docs/ical.md. */
export { icalModule } from './module.js';
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
