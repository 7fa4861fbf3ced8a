/**
 * The iCal feed QR code (issue 19) over real HTTP on a real SQLite store: handed out with the
 * URL at creation and rotation — the only times the URL exists, since the store keeps its
 * token's SHA-256 only — and never to a key of another practice.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import QRCode from 'qrcode';

import { defaultModules } from '../../../src/app/modules.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';

interface Issued {
  feed: { id: string };
  url: string;
  qrSvg: string;
}

describe('iCal feed QR codes over HTTP', () => {
  let t: TestService;
  let integratorA: string;

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules() });
    await t.service.store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    await t.service.store.practices.create({ id: 'cab-b', name: 'Cabinet B' });
    integratorA = (
      await createApiKey(t.service.store, {
        role: 'integrator',
        practiceId: 'cab-a',
        createdBy: 'test',
        via: 'test',
      })
    ).key;
  });
  afterAll(() => t.dispose());

  const create = async (practiceId: string, key?: string) => {
    const res = await t.api('/api/v1/ical/tokens', {
      method: 'POST',
      json: { practiceId, label: 'Agenda du cabinet' },
      ...(key !== undefined && { key }),
    });
    return { status: res.status, body: (await res.json()) as Issued };
  };

  it('hands out the feed URL as an SVG QR code when the feed is created', async () => {
    const { status, body } = await create('cab-a', integratorA);
    expect(status).toBe(201);
    expect(body.qrSvg.startsWith('<svg')).toBe(true);
    // The code is the one of the URL handed out with it.
    expect(body.qrSvg).toBe(
      await QRCode.toString(body.url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    );
  });

  it('hands out a new QR code of the new URL on rotation, and none when the feed is read', async () => {
    const { body } = await create('cab-a', integratorA);
    const rotated = (await (
      await t.api(`/api/v1/ical/tokens/${body.feed.id}/rotate`, { method: 'POST', key: integratorA })
    ).json()) as Issued;
    expect(rotated.url).not.toBe(body.url);
    expect(rotated.qrSvg).toBe(
      await QRCode.toString(rotated.url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    );
    const read = await (await t.api(`/api/v1/ical/tokens/${body.feed.id}`, { key: integratorA })).text();
    expect(read).not.toContain('<svg');
    expect(read).not.toContain(rotated.url);
  });

  it('refuses a key of another practice both creation and rotation', async () => {
    expect((await create('cab-b', integratorA)).status).toBe(403);
    const { body } = await create('cab-b');
    const res = await t.api(`/api/v1/ical/tokens/${body.feed.id}/rotate`, {
      method: 'POST',
      key: integratorA,
    });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('<svg');
  });
});
