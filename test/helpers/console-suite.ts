/**
 * One console world and one Chromium for many browser tests: `consoleSuite()` registers, in the
 * scope it is called from (a file, or a describe), the beforeAll that starts both and the
 * afterAll that stops them. A world costs ≈ 10–20 s of start and keeps its demo traffic running
 * (CPU taken from every other test of the run) for as long as it lives: the console's page tests
 * share one (test/console/console.browser.test.ts, one module per page in test/console/pages/).
 *
 *   const suite = consoleSuite();              // at the top of a *.browser.test.ts
 *   messagesPage(suite);                       // registers the page's describe
 *
 *   // test/console/pages/messages.ts:
 *   export const messagesPage = consolePage('console messages page', (suite) => {
 *     beforeAll(() => { ({ world, signedIn } = suite); });   // once the suite's beforeAll ran
 *     it('…', async () => { const page = await signedIn(key); … await page.context().close(); });
 *   });
 */
import { afterAll, beforeAll, describe } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';

import { launchBrowser, newContext, signInWithKey } from './browser.js';
import { type ConsoleWorld, type ConsoleWorldOptions, startConsoleWorld } from './console-world.js';

export interface ConsoleSuite {
  /** The world; only once the suite's beforeAll has run (from a page's beforeAll or tests). */
  readonly world: ConsoleWorld;
  readonly browser: Browser;
  /**
   * A page in a new browser context (its own cookies), signed in with `key` on the sign-in page.
   * `beforeSignIn` runs on the blank page first: permissions, init scripts, routes the test
   * needs from the first request on.
   */
  signedIn(key: string, options?: SignedInOptions): Promise<Page>;
}

export interface SignedInOptions {
  readonly beforeSignIn?: (page: Page) => Promise<unknown>;
}

export interface ConsoleSuiteOptions {
  /**
   * Extra configuration sections for the world, read when the suite starts (after the beforeAll
   * hooks registered before `consoleSuite()`, e.g. one that starts an identity provider).
   */
  readonly config?: () => Readonly<Record<string, unknown>>;
}

export function consoleSuite(options: ConsoleSuiteOptions = {}): ConsoleSuite {
  let world: ConsoleWorld | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const worldOptions: ConsoleWorldOptions = options.config ? { config: options.config() } : {};
    [world, browser] = await Promise.all([startConsoleWorld(worldOptions), launchBrowser()]);
    // The first page a fresh Chromium opens pays for its renderer process and the console's
    // first asset reads: on a loaded 2-core machine that alone passed the pages' 15 s timeout.
    // Paid once here, so that no page's first test fails on it.
    const context = await browser.newContext({ baseURL: world.url });
    try {
      const page = await context.newPage();
      await page.goto('/console/', { timeout: 90_000 });
      await page.getByRole('heading', { level: 1 }).first().waitFor({ timeout: 90_000 });
    } finally {
      await context.close();
    }
    // A loaded 2-core machine (CI, other test workers) takes up to a minute to start the demo.
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await world?.dispose();
  }, 60_000);

  const suite: ConsoleSuite = {
    get world(): ConsoleWorld {
      if (!world) throw new Error('the console world is not started: use it from beforeAll or a test');
      return world;
    },
    get browser(): Browser {
      if (!browser) throw new Error('the browser is not started: use it from beforeAll or a test');
      return browser;
    },
    async signedIn(key, options = {}) {
      const context = await newContext(suite.browser, suite.world.url);
      const page = await context.newPage();
      await options.beforeSignIn?.(page);
      await signInWithKey(page, key);
      return page;
    },
  };
  return suite;
}

/**
 * A page's tests as a function of the suite: `consolePage('console x page', (suite) => { … })`
 * is `(suite) => describe('console x page', …)`, for console.browser.test.ts to call in order.
 */
export function consolePage(
  name: string,
  tests: (suite: ConsoleSuite) => void,
): (suite: ConsoleSuite) => void {
  return (suite) => describe(name, () => tests(suite));
}
