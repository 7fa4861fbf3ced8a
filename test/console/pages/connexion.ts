/**
 * The sign-in page in real Chromium against the real service (the demo world): what a person
 * sees first, usable by keyboard, with no serious accessibility violation.
 */
import { beforeAll, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';

import { newContext, screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';

let world: ConsoleWorld;
let browser: Browser;

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const connexionPage = consolePage('console sign-in page', (suite) => {
  beforeAll(() => {
    ({ world, browser } = suite);
  });

  it('shows the French sign-in form first, reachable by keyboard, without serious accessibility violations', async () => {
    const context = await newContext(browser, world.url);
    const page = await context.newPage();
    await page.goto('/console/');
    await page.getByRole('heading', { level: 1, name: 'Connexion' }).waitFor();
    await page.keyboard.press('Tab');
    const focused = await page.evaluate('document.activeElement && document.activeElement.id');
    expect(focused).toBe('cle');
    await screenshot(page, 'connexion');
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  }, 60_000);
});
