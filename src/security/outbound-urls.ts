/**
 * Outbound connector URLs must be https (issue 16 point 9): a link sends patient data and its
 * credentials to its peer, so plain http is allowed only where nothing crosses a network — a
 * link marked as test, or a peer on loopback (127.0.0.0/8, ::1, localhost: the simulators, a
 * local proxy). Connectors declare which config values are outbound URLs
 * (`ConnectorDefinition.outboundUrls`); the runtime checks them before a link starts.
 */
import { BlockList, isIP } from 'node:net';

import type { ErrorIssue } from '../errors.js';
import type { Link } from '../store/types.js';

/** One outbound URL of a link's config, with its path in the config (`baseUrl`, `auth.tokenEndpoint`). */
export interface OutboundUrl {
  readonly path: string;
  readonly url: string;
}

export const PLAIN_HTTP_REFUSED = 'must be https unless the link is a test link or the host is loopback';

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
// IPv4-mapped loopback (::ffff:127.x.y.z), as the URL parser writes it.
loopback.addSubnet('::ffff:7f00:0', 104, 'ipv6');

/** True for localhost, 127.0.0.0/8 and ::1 (the host as `new URL()` gives it). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === 'localhost.') return true;
  const family = isIP(host);
  return family !== 0 && loopback.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/** The issues of a link's outbound URLs (paths prefixed `config.`); none when all are allowed. */
export function outboundUrlIssues(urls: readonly OutboundUrl[], link: Pick<Link, 'isTest'>): ErrorIssue[] {
  if (link.isTest) return [];
  const issues: ErrorIssue[] = [];
  for (const { path, url } of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      continue; // The connector's schema reports a URL that does not parse.
    }
    if (parsed.protocol === 'https:' || isLoopbackHost(parsed.hostname)) continue;
    issues.push({ path: `config.${path}`, message: PLAIN_HTTP_REFUSED });
  }
  return issues;
}
