import { describe, expect, it } from '@jest/globals';

import { generateWebhookSecret } from '../../../connectors/secretariat/webhook-signature.js';
import { digestWebhookId, digestWebhookOf } from '../../../src/reports/webhook.js';

describe('a practice’s digest webhook settings', () => {
  it('is absent when settings.digestWebhook is not set', () => {
    expect(digestWebhookOf({})).toEqual({ webhook: null });
  });

  it('takes an http(s) URL with an optional Standard Webhooks secret', () => {
    const secret = generateWebhookSecret();
    expect(digestWebhookOf({ digestWebhook: { url: 'https://cabinet.example/digest', secret } })).toEqual({ webhook: { url: 'https://cabinet.example/digest', secret } });
    expect(digestWebhookOf({ digestWebhook: { url: 'http://127.0.0.1:9/x' } })).toEqual({ webhook: { url: 'http://127.0.0.1:9/x' } });
  });

  it('names what is wrong without repeating the secret', () => {
    const bad = digestWebhookOf({ digestWebhook: { url: 'ftp://cabinet.example/x', colour: 'blue' } });
    expect('error' in bad && bad.error.code).toBe('ERR_REPORTS_WEBHOOK_CONFIG');
    expect('error' in bad && bad.error.issues.map((i) => i.path).sort()).toEqual(['settings.digestWebhook', 'settings.digestWebhook.url']);
    const secret = digestWebhookOf({ digestWebhook: { url: 'https://cabinet.example/x', secret: 'hunter2-not-a-whsec' } });
    expect('error' in secret && secret.error.message).toMatch(/^settings\.digestWebhook\.secret: /);
    expect('error' in secret && JSON.stringify(secret.error.toJSON())).not.toContain('hunter2');
  });

  it('gives each practice and day one stable webhook id, in the Standard Webhooks id alphabet', () => {
    const id = digestWebhookId('cab.1', '2026-11-23');
    expect(id).toBe(digestWebhookId('cab.1', '2026-11-23'));
    expect(id).not.toBe(digestWebhookId('cab.1', '2026-11-24'));
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
  });
});
