/**
 * Signing in to the console with OpenID Connect in real Chromium: the console's button, the
 * provider's own login and consent pages (oidc-provider 9 on 127.0.0.1, as a regional or
 * national health-professional provider such as Pro Santé Connect would be), back to the
 * console with the role and practice the provider's claims map to.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';

import { newContext, screenshot, seriousViolations } from '../helpers/browser.js';
import { consoleSuite } from '../helpers/console-suite.js';
import type { ConsoleWorld } from '../helpers/console-world.js';
import {
  type OidcTestProvider,
  startOidcProvider,
  TEST_PRACTICE_CLAIM,
  TEST_ROLE_CLAIM,
} from '../helpers/oidc-provider.js';

let idp: OidcTestProvider;

const HL7_PRACTICE = 'demo-cabinet-hl7';

// Before the suite's own beforeAll: the world's configuration names the provider.
beforeAll(async () => {
  idp = await startOidcProvider({
    users: [
      {
        id: 'dr-fictif',
        claims: {
          name: 'Dr Camille Fictive',
          [TEST_ROLE_CLAIM]: 'medecin',
          [TEST_PRACTICE_CLAIM]: HL7_PRACTICE,
        },
      },
      { id: 'stagiaire', claims: { name: 'Stagiaire Fictif', [TEST_ROLE_CLAIM]: 'inconnu' } },
    ],
  });
});

// Its own world: the console's sign-in page changes with an OpenID Connect provider configured.
const suite = consoleSuite({
  config: () => ({
    console: {
      oidc: {
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
        scopes: 'openid profile passerelle',
        label: 'Pro Santé Connect (test)',
        roleClaim: TEST_ROLE_CLAIM,
        roleMap: { medecin: 'viewer' },
        practiceClaim: TEST_PRACTICE_CLAIM,
        allowInsecureIssuer: true,
      },
    },
  }),
});
let world: ConsoleWorld;
let browser: Browser;

beforeAll(() => {
  ({ world, browser } = suite);
  idp.allowRedirects([`${world.url}/console/auth/oidc/callback`]);
});

afterAll(async () => {
  await idp?.close();
}, 60_000);

/** The provider's development pages: a login form, then a consent form. */
async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.goto('/console/');
  await page.getByRole('link', { name: 'Se connecter avec Pro Santé Connect (test)' }).click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('mot de passe de test');
  await page.locator('button[type="submit"]').click();
  // Consent, when the provider asks for it.
  const consent = page.locator('button[type="submit"]');
  await page.waitForURL((u) => u.pathname.startsWith('/console/') || u.pathname.includes('interaction'));
  if (new URL(page.url()).pathname.includes('interaction')) await consent.click();
  await page.waitForURL(
    (u) => u.pathname.startsWith('/console/') && !u.pathname.startsWith('/console/auth/'),
  );
}

describe('console sign-in with OpenID Connect', () => {
  it('signs a practice doctor in with the role and the practice the provider’s claims give', async () => {
    const context = await newContext(browser, world.url);
    const page = await context.newPage();
    await signInAtProvider(page, 'dr-fictif');
    await page.getByRole('heading', { level: 1, name: 'Tableau de bord' }).waitFor();
    expect(await page.getByText('Dr Camille Fictive (lecture seule)', { exact: false }).count()).toBe(1);
    // Limited to the practice of its claim: the other practice is never shown.
    await page.locator(`section[data-practice="${HL7_PRACTICE}"]`).waitFor();
    expect(await page.locator('section[data-practice]').count()).toBe(1);
    await screenshot(page, 'connexion-oidc-tableau');
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  }, 90_000);

  it('refuses a user whose role claim maps to no role, with the reason in French on the sign-in page', async () => {
    const context = await newContext(browser, world.url);
    const page = await context.newPage();
    await signInAtProvider(page, 'stagiaire');
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/fournisseur d’identité a été refusée/);
    expect(await page.getByRole('navigation', { name: 'Navigation principale' }).count()).toBe(0);
    await screenshot(page, 'connexion-oidc-refusee');
    await context.close();
  }, 90_000);
});
