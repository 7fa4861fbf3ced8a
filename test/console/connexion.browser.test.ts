/**
 * The sign-in page in real Chromium against the real service (the demo world): what a person
 * sees first, usable by keyboard, with no serious accessibility violation.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';

import { launchBrowser, newContext, screenshot, seriousViolations } from '../helpers/browser.js';
import { type ConsoleWorld, startConsoleWorld } from '../helpers/console-world.js';

let world: ConsoleWorld;
let browser: Browser;

beforeAll(async () => {
  [world, browser] = await Promise.all([startConsoleWorld(), launchBrowser()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await world?.dispose();
}, 60_000);

describe('console sign-in page', () => {
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
