/**
 * Consignes and scripts (issue 21 point 1), end to end: the whole service on a real SQLite
 * store, the secretariat simulator over real HTTP, versions written through the admin API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { type UrgentModule, urgentModule } from '../../src/app/features/urgent.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { type FhirWorld, startFhirWorld, until } from '../helpers/fhir-world.js';

const first = {
  welcomeScript: 'Cabinet des Essais, bonjour. Je suis la secrétaire du docteur, que puis-je pour vous ?',
  profiles: [
    {
      code: 'enfant',
      label: 'Enfant de moins de 6 ans',
      instructions: 'Proposer le créneau du mercredi matin.',
    },
    {
      code: 'nouveau-patient',
      label: 'Nouveau patient',
      instructions: 'Demander le nom du médecin traitant.',
    },
  ],
  practitioners: [{ practitionerId: 'prac-1', instructions: 'Pas de visite à domicile.' }],
  urgent: {
    criteria: ['douleur thoracique', 'fièvre du nourrisson de moins de 3 mois'],
    whomToCall: [{ label: 'Médecin de garde', phone: '+33 1 23 45 67 89', when: 'en semaine' }],
  },
};

describe('consignes and scripts, versioned per practice', () => {
  let w: FhirWorld;
  let other: string;
  let keyB: string;
  let viewerA: string;
  let urgent!: UrgentModule;

  const json = async <T>(res: Response, status: number): Promise<T> => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
    return (body ? JSON.parse(body) : undefined) as T;
  };
  const onPlatform = async () =>
    json<{ version: number; document: typeof first }>(
      await fetch(`${w.sim.url}/v1/practices/${w.sim.practiceId}/consignes`, {
        headers: { authorization: `Bearer ${w.sim.apiToken}` },
      }),
      200,
    );
  const put = (body: unknown, version: number, key?: string) =>
    w.t.api(`/api/v1/practices/${w.practiceId}/consignes`, {
      method: 'PUT',
      key: key ?? w.integrator,
      headers: { 'if-match': `"${version}"` },
      json: body,
    });

  beforeAll(async () => {
    w = await startFhirWorld({
      day0: new Date(),
      extraModules: (sync) => {
        urgent = urgentModule({ sync, schedule: false });
        return [urgent];
      },
    });
    other = (
      await json<{ id: string }>(
        await w.t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet voisin' } }),
        201,
      )
    ).id;
    const store = w.t.service.store;
    keyB = (
      await createApiKey(store, { role: 'integrator', practiceId: other, createdBy: 'test', via: 'test' })
    ).key;
    viewerA = (
      await createApiKey(store, { role: 'viewer', practiceId: w.practiceId, createdBy: 'test', via: 'test' })
    ).key;
  }, 60_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it('stores a first version, publishes it to the secretariat platform and audits it with its author', async () => {
    const v1 = await json<{
      version: number;
      author: string;
      publishedAt: string | null;
      diff: { path: string }[];
    }>(await put(first, 0), 200);
    expect(v1.version).toBe(1);
    expect(v1.publishedAt).not.toBeNull();
    expect(v1.diff.map((d) => d.path)).toContain('welcomeScript');
    const platform = await onPlatform();
    expect(platform.version).toBe(1);
    expect(platform.document.welcomeScript).toBe(first.welcomeScript);
    expect(platform.document.urgent.whomToCall[0]).toEqual(first.urgent.whomToCall[0]);
    const audit = (await w.t.service.store.audit.list({ limit: 500 })).filter(
      (e) => e.action === 'consignes.update',
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ practiceId: w.practiceId, outcome: 'success', actor: v1.author });
    expect(audit[0]?.actor).not.toBe('anonymous');
  });

  it('keeps every version with its diff, publishes the new one, and refuses a change made on a stale version', async () => {
    const changed = {
      ...first,
      profiles: [
        first.profiles[0],
        { ...first.profiles[1], instructions: 'Demander la carte Vitale et le médecin traitant.' },
      ],
    };
    const v2 = await json<{ version: number; diff: { path: string; before: unknown; after: unknown }[] }>(
      await put(changed, 1),
      200,
    );
    expect(v2.version).toBe(2);
    expect(v2.diff).toEqual([
      {
        path: 'profiles[1].instructions',
        before: 'Demander le nom du médecin traitant.',
        after: 'Demander la carte Vitale et le médecin traitant.',
      },
    ]);
    expect((await onPlatform()).version).toBe(2);
    expect((await put(first, 1)).status).toBe(409);

    const versions = await json<{ items: { version: number; author: string; diff: unknown[] }[] }>(
      await w.t.api(`/api/v1/practices/${w.practiceId}/consignes/versions`, { key: viewerA }),
      200,
    );
    expect(versions.items.map((v) => v.version)).toEqual([2, 1]);
    const current = await w.t.api(`/api/v1/practices/${w.practiceId}/consignes`, { key: viewerA });
    expect(current.headers.get('etag')).toBe('"2"');
  });

  it('refuses a document that breaks the schema, naming the field', async () => {
    const res = await put({ ...first, profiles: [{ code: 'Enfant !', label: 'x', instructions: 'y' }] }, 2);
    const body = await json<{ error: { details: { issues: { path: string }[] } } }>(res, 400);
    expect(body.error.details.issues[0]?.path).toBe('body.profiles.0.code');
  });

  it('keeps each practice to its own consignes on every route, and leaves writing to integrators', async () => {
    const base = `/api/v1/practices/${w.practiceId}/consignes`;
    expect((await w.t.api(base, { key: keyB })).status).toBe(403);
    expect((await w.t.api(`${base}/versions`, { key: keyB })).status).toBe(403);
    expect((await put(first, 2, keyB)).status).toBe(403);
    expect((await w.t.api(`${base}/publish`, { method: 'POST', key: keyB })).status).toBe(403);
    expect((await put(first, 2, viewerA)).status).toBe(403);
    expect((await onPlatform()).version).toBe(2);
  });

  it('records beside an urgent call message the version of the consignes in force when it was taken', async () => {
    const m = await w.sim
      .agent('agent-bruno')
      .leaveMessage({ callerName: 'Appelant', text: 'Rappeler.', priority: 'urgent' });
    const store = w.t.service.store;
    const id = (await until('the message in the store', () =>
      store.identityMap.findCanonical(w.secLinkId, 'Communication', m.id),
    )) as string;
    await urgent.escalationOf(w.t.service.context).runOnce();
    const t = await json<{ message: { consignesVersion: number | null } }>(
      await w.t.api(`/api/v1/practices/${w.practiceId}/urgent-messages/${id}`, { key: viewerA }),
      200,
    );
    expect(t.message.consignesVersion).toBe(2);
  });
});
