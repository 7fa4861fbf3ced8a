import { randomBytes } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import {
  digestWebhookId,
  digestWebhookOf,
  digestWebhookView,
  sealDigestWebhook,
} from '../../src/reports/webhook.js';
import { SecretBox } from '../../src/security/secrets.js';
import { generateWebhookSecret } from '../../src/security/webhook-signature.js';
import type { JsonObject } from '../../src/store/types.js';

const box = new SecretBox(randomBytes(32));
const hookOf = (settings: JsonObject) => settings['digestWebhook'] as JsonObject;

describe('a practice’s digest webhook settings', () => {
  it('is absent when settings.digestWebhook is not set', () => {
    expect(digestWebhookOf({}, box, 'cab.1')).toEqual({ webhook: null });
    expect(sealDigestWebhook({ other: 1 }, null, box, 'cab.1')).toEqual({ other: 1 });
  });

  it('stores the secret sealed, shows only that one is set, and opens it for the practice it was sealed for', () => {
    const secret = generateWebhookSecret();
    const stored = sealDigestWebhook(
      { digestWebhook: { url: 'https://cabinet.example/digest', secret }, other: 'kept' },
      null,
      box,
      'cab.1',
    );
    expect(JSON.stringify(stored)).not.toContain(secret.slice(6));
    expect(stored['other']).toBe('kept');
    expect(hookOf(stored)).toEqual({
      url: 'https://cabinet.example/digest',
      sealedSecret: expect.stringMatching(/^pz1\./),
    });
    expect(digestWebhookView(stored)).toEqual({
      digestWebhook: { url: 'https://cabinet.example/digest', hasSecret: true },
      other: 'kept',
    });
    expect(digestWebhookOf(stored, box, 'cab.1')).toEqual({
      webhook: { url: 'https://cabinet.example/digest', secret },
    });
    // Copied onto another practice, or read with another key, it does not open.
    const elsewhere = digestWebhookOf(stored, box, 'cab.2');
    expect('error' in elsewhere && elsewhere.error.code).toBe('ERR_REPORTS_WEBHOOK_CONFIG');
    const otherKey = digestWebhookOf(stored, new SecretBox(randomBytes(32)), 'cab.1');
    expect('error' in otherKey && otherKey.error.message).toMatch(
      /^settings\.digestWebhook\.secret: cannot be decrypted/,
    );
  });

  it('keeps the stored secret when the settings are sent back without it, and removes it on null', () => {
    const secret = generateWebhookSecret();
    const stored = sealDigestWebhook(
      { digestWebhook: { url: 'https://cabinet.example/a', secret } },
      null,
      box,
      'cab.1',
    );
    // What a client read (hasSecret) sent back with a new URL.
    const moved = sealDigestWebhook(
      { digestWebhook: { url: 'https://cabinet.example/b', hasSecret: true } },
      stored,
      box,
      'cab.1',
    );
    expect(digestWebhookOf(moved, box, 'cab.1')).toEqual({
      webhook: { url: 'https://cabinet.example/b', secret },
    });
    const removed = sealDigestWebhook(
      { digestWebhook: { url: 'https://cabinet.example/b', secret: null } },
      moved,
      box,
      'cab.1',
    );
    expect(digestWebhookOf(removed, box, 'cab.1')).toEqual({ webhook: { url: 'https://cabinet.example/b' } });
    expect(digestWebhookView(removed)).toEqual({
      digestWebhook: { url: 'https://cabinet.example/b', hasSecret: false },
    });
  });

  it('refuses bad settings at write time naming the body path, without repeating the secret', () => {
    expect(() =>
      sealDigestWebhook(
        { digestWebhook: { url: 'ftp://cabinet.example/x', colour: 'blue' } },
        null,
        box,
        'cab.1',
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_VALIDATION',
        issues: expect.arrayContaining([
          expect.objectContaining({ path: 'body.settings.digestWebhook.url' }),
        ]),
      }),
    );
    let thrown: unknown;
    try {
      sealDigestWebhook(
        { digestWebhook: { url: 'https://cabinet.example/x', secret: 'hunter2-not-a-whsec' } },
        null,
        box,
        'cab.1',
      );
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({
      code: 'ERR_VALIDATION',
      message: expect.stringMatching(/^body\.settings\.digestWebhook\.secret: /),
    });
    expect(JSON.stringify((thrown as { toJSON(): unknown }).toJSON())).not.toContain('hunter2');
  });

  it('names what is wrong with stored settings it cannot use', () => {
    const bad = digestWebhookOf(
      { digestWebhook: { url: 'ftp://cabinet.example/x', colour: 'blue' } },
      box,
      'cab.1',
    );
    expect('error' in bad && bad.error.code).toBe('ERR_REPORTS_WEBHOOK_CONFIG');
    expect('error' in bad && bad.error.issues.map((i) => i.path).sort()).toEqual([
      'settings.digestWebhook',
      'settings.digestWebhook.url',
    ]);
  });

  it('gives each practice and day one stable webhook id, in the Standard Webhooks id alphabet', () => {
    const id = digestWebhookId('cab.1', '2026-11-23');
    expect(id).toBe(digestWebhookId('cab.1', '2026-11-23'));
    expect(id).not.toBe(digestWebhookId('cab.1', '2026-11-24'));
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
  });
});
