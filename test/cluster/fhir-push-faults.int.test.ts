/**
 * Issue 23, the fault suite's FHIR side (short form): three `passerelle serve` processes on one
 * PostgreSQL database behind HAProxy; the practice's software is the built-in FHIR peer, reached
 * through the fault proxy (both in this process, on 127.0.0.1), its secretariat the simulator.
 * Agents book on the platform; passerelle learns of it (webhook through HAProxy, 2 s poll) and
 * the instances push each booking to the FHIR server as a conditional update keyed on its
 * business identifier. One cluster world for the file (starting processes is the slow part):
 *
 * - the proxy answering a seeded share of the appointment writes 429 (Retry-After: 1), 500, or
 *   nothing before the client's timeout, under agents booking at once;
 * - the practice editing appointments directly on the FHIR server (passerelle does not poll it)
 *   while agents move them: each push meets a real 412 from the server and is merged again; only
 *   the ones both sides moved open a conflict.
 *
 * Each run prints sent / applied / pushed / lost / duplicated / conflicts / max lag, counted on the
 * FHIR server by business identifier, and asserts 0 lost, 0 duplicated. HAProxy is part of this
 * machine (.ci/run installs it): without it the test fails.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Appointment as FhirAppointment, Bundle } from '@medplum/fhirtypes';
import pg from 'pg';

import {
  demoPractice,
  type FaultProxy,
  type FhirPeer,
  startFaultProxy,
  startFhirPeer,
} from '../../connectors/fhir/peer/index.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../connectors/secretariat/simulator/index.js';
import { type Cluster, freePort, haproxyBinary, startCluster } from '../../scripts/cluster.js';
import { generateWebhookSecret } from '../../src/security/webhook-signature.js';
import { outboxDepth } from '../helpers/cluster-push.js';
import { api, readyz } from '../helpers/cluster-world.js';
import { APPOINTMENT_SYSTEM, fhirRequest, SUBSCRIPTION_SECRET, YEARLY } from '../helpers/fhir-world.js';
import { createPgDatabase, tempDir } from '../helpers/stores.js';
import { until } from '../helpers/until.js';

/** Client timeout of the FHIR link; a hang holds the request past it. */
const CLIENT_TIMEOUT_MS = 1000;
const HANG_MS = 2500;
const APPOINTMENT_PATH = /^\/fhir\/R4\/Appointment/;

/** The Monday at least two days ahead (UTC): the demo agenda (a week of slots) starts there. */
function nextMonday(): Date {
  const d = new Date();
  const t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 2);
  const day = new Date(t).getUTCDay();
  return new Date(t + ((8 - day) % 7) * 86_400_000);
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[]): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

describe('three instances pushing to a FHIR server that answers 429, 500, hangs and 412', () => {
  const dir = tempDir('passerelle-cluster-fhir-');
  let db: { url: string; drop: () => Promise<void> };
  let cluster: Cluster;
  let key: string;
  let front: string;
  let practiceId: string;
  let fhirLinkId: string;
  let secLinkId: string;
  let peer: FhirPeer;
  let proxy: FaultProxy;
  let sim: SecretariatSimulator;

  /** The FHIR server's appointments (read on the peer itself, not through the proxy). */
  const fhirAppointments = async (): Promise<FhirAppointment[]> => {
    const out: FhirAppointment[] = [];
    let path: string | undefined = 'Appointment?_count=500';
    while (path !== undefined) {
      const page: Bundle<FhirAppointment> = (
        await fhirRequest<Bundle<FhirAppointment>>(peer.url, 'GET', path)
      ).body;
      for (const e of page.entry ?? []) if (e.resource) out.push(e.resource);
      const next = page.link?.find((l) => l.relation === 'next')?.url;
      path = next === undefined ? undefined : next.slice(next.indexOf('Appointment'));
    }
    return out;
  };
  /** Business identifier (APPOINTMENT_SYSTEM) → the FHIR resources carrying it. */
  const byIdentifier = async (): Promise<Map<string, FhirAppointment[]>> => {
    const out = new Map<string, FhirAppointment[]>();
    for (const a of await fhirAppointments()) {
      const value = a.identifier?.find((i) => i.system === APPOINTMENT_SYSTEM)?.value;
      if (value !== undefined) (out.get(value) ?? out.set(value, []).get(value))?.push(a);
    }
    return out;
  };
  /** Appointments passerelle holds for the secretariat link (identity map rows, whose ids are sealed). */
  const appliedRows = async (): Promise<number> =>
    Number(
      (
        await query<{ n: string }>(
          db.url,
          "SELECT count(*) AS n FROM identity_map WHERE link_id = $1 AND kind = 'Appointment'",
          [secLinkId],
        )
      )[0]?.n,
    );
  /**
   * The FHIR resources carrying a business identifier not in `before`, by start time: every
   * booking of a run has a start of its own (freeSlots), which ties it to its resource without
   * reading passerelle's sealed identity map.
   */
  const newOnFhir = async (
    before: ReadonlySet<string>,
  ): Promise<{ byStart: Map<number, FhirAppointment[]>; identifiers: Map<string, FhirAppointment[]> }> => {
    const identifiers = new Map([...(await byIdentifier())].filter(([v]) => !before.has(v)));
    const byStart = new Map<number, FhirAppointment[]>();
    for (const list of identifiers.values())
      for (const a of list) {
        const t = Date.parse(a.start as string);
        (byStart.get(t) ?? byStart.set(t, []).get(t))?.push(a);
      }
    return { byStart, identifiers };
  };
  const openConflicts = async (): Promise<{ kind: string; paths: string[] }[]> => {
    const res = await fetch(`${front}/api/v1/conflicts?practiceId=${practiceId}&status=open`, {
      headers: { authorization: `Bearer ${key}` },
    });
    if (!res.ok) throw new Error(`GET conflicts: ${res.status}`);
    return ((await res.json()) as { items: { kind: string; paths: string[] }[] }).items;
  };
  /** Free platform slots not booked by an earlier run; with `distinctStarts`, no two at one time. */
  const used = new Set<string>();
  const usedStarts = new Set<number>();
  const freeSlots = (n: number, distinctStarts: boolean): string[] => {
    const out: string[] = [];
    for (const s of sim.state.list('slot')) {
      if (out.length === n) break;
      const t = Date.parse(s.start);
      if (s.status !== 'free' || used.has(s.id) || (distinctStarts && usedStarts.has(t))) continue;
      out.push(s.id);
      used.add(s.id);
      usedStarts.add(t);
    }
    if (out.length < n) throw new Error(`only ${out.length} suitable free slot(s) on the platform`);
    return out;
  };

  beforeAll(async () => {
    haproxyBinary();
    db = await createPgDatabase();
    peer = await startFhirPeer();
    await peer.seed(demoPractice(nextMonday()));
    proxy = await startFaultProxy({ target: peer.url });
    sim = await startSecretariatSimulator({ port: 0, host: '127.0.0.1', seed: 'empty' });
    cluster = await startCluster({
      instances: 3,
      pgUrl: db.url,
      dir: dir.path,
      httpFrontPort: await freePort(),
      linkRestartCapMs: 1000,
      env: {
        PASSERELLE_SYNC_OUTBOX_LEASE_MS: '15000',
        PASSERELLE_SYNC_PUSH_TIMEOUT_MS: '8000',
        PASSERELLE_SYNC_RETRY_BASE_MS: '200',
        PASSERELLE_SYNC_RETRY_CAP_MS: '2000',
        PASSERELLE_SYNC_MAX_ATTEMPTS: '40',
      },
    });
    front = cluster.httpUrl as string;
    key =
      cluster.adminKey ??
      (await until('the first admin API key printed by instance 0', () => cluster.adminKey, 10_000));
    practiceId = (
      await until(
        'the admin API through HAProxy',
        () => api<{ id: string }>(front, key, '/api/v1/practices', { name: 'Maison de santé des Pannes' }),
        60_000,
        { tolerateErrors: true, everyMs: 200 },
      )
    ).id;
    const webhookSecret = generateWebhookSecret();
    secLinkId = (
      await api<{ id: string }>(front, key, '/api/v1/links', {
        practiceId,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Télésecrétariat',
        isTest: true,
        schedule: '*/2 * * * * *',
        config: {
          baseUrl: sim.url,
          platformPracticeId: sim.practiceId,
          timeoutMs: 5000,
          retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500, maxRetryAfterSeconds: 5 },
        },
        secrets: { apiToken: sim.apiToken, webhookSecret },
      })
    ).id;
    // Never polled on schedule: the test hints the one load it wants, so that the practice's
    // own edits stay unknown to passerelle until its push meets them (a 412).
    fhirLinkId = (
      await api<{ id: string }>(front, key, '/api/v1/links', {
        practiceId,
        role: 'practice',
        connector: 'fhir',
        name: 'Logiciel du cabinet (FHIR)',
        isTest: true,
        schedule: YEARLY,
        config: {
          baseUrl: proxy.url,
          timeoutMs: CLIENT_TIMEOUT_MS,
          retry: { max: 3, baseDelayMs: 50, maxDelayMs: 2000 },
          pageSize: 50,
        },
        secrets: { subscriptionSecret: SUBSCRIPTION_SECRET },
      })
    ).id;
    sim.setWebhook({
      url: `${front}/hooks/secretariat/${secLinkId}`,
      secrets: [webhookSecret],
      retryDelaysMs: [100, 500, 2000],
    });
    await until(
      'every instance ready',
      async () => {
        for (const i of cluster.instances) if ((await readyz(i.url, key)).status !== 200) return false;
        return true;
      },
      60_000,
      { tolerateErrors: true, everyMs: 200 },
    );
    // The server's Subscription hint: one instance loads the agenda and publishes it.
    await until(
      'the FHIR hint accepted',
      async () =>
        (
          await fetch(`${front}/hooks/fhir/${fhirLinkId}`, {
            method: 'POST',
            headers: { 'content-type': 'application/fhir+json', 'x-passerelle-secret': SUBSCRIPTION_SECRET },
            body: JSON.stringify({
              resourceType: 'Appointment',
              id: 'hint',
              status: 'booked',
              participant: [],
            }),
          })
        ).status === 200,
      30_000,
      { tolerateErrors: true, everyMs: 500 },
    );
    await until(
      'the agenda on the secretariat',
      () =>
        sim.state.list('practitioner').length === 2 &&
        sim.state.list('patient').length === 10 &&
        sim.state.list('slot').filter((s) => s.status === 'free').length >= 40,
      90_000,
      { everyMs: 200 },
    );
    // …with the practice's two appointments, so that a run's figures count its own bookings only.
    await until(
      'the practice’s appointments on the secretariat and both outboxes drained',
      async () => {
        if (sim.state.list('appointment').length !== 2) return false;
        for (const link of [secLinkId, fhirLinkId]) {
          const depth = await outboxDepth(db.url, link);
          if (depth.pending + depth.leased > 0) return false;
        }
        return true;
      },
      60_000,
      { everyMs: 200 },
    );
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await sim?.close();
    await proxy?.close();
    await peer?.close();
    await db?.drop();
    dir.remove();
  }, 30_000);

  /** Books `n` appointments, `agents` agents at once; resolves with the platform ids and when each was booked. */
  const bookAll = async (n: number, agents: number): Promise<Map<string, number>> => {
    const slots = freeSlots(n, true);
    const patients = sim.state.list('patient').map((p) => p.id);
    const booked = new Map<string, number>();
    await Promise.all(
      Array.from({ length: agents }, async (_, a) => {
        for (let s = slots.shift(); s !== undefined; s = slots.shift()) {
          const at = Date.now();
          const apt = await sim
            .agent(`agent-${a}`)
            .book({ slotId: s, patientId: patients[booked.size % patients.length] as string });
          booked.set(apt.id, at);
        }
      }),
    );
    return booked;
  };

  it('puts every booking on the FHIR server once when it answers 429, 500 or nothing in time to a share of writes', async () => {
    // 30 % of appointment writes faulted, drawn from a seeded PRNG: the same mix on every run.
    proxy.setShare({
      rate: 0.3,
      seed: 23,
      match: { method: 'PUT', path: APPOINTMENT_PATH },
      faults: [
        { kind: 'status', status: 429, retryAfter: 1 },
        { kind: 'status', status: 500 },
        { kind: 'hang', maxMs: HANG_MS },
      ],
    });
    const requestsBefore = proxy.stats.requests.length;
    const before = new Set((await byIdentifier()).keys());
    const appliedBefore = await appliedRows();
    const booked = await bookAll(24, 3);
    const ids = [...booked.keys()];
    const startOf = (id: string) => Date.parse(sim.state.get('appointment', id)?.start as string);
    const firstSeen = new Map<string, number>();
    const figures = async () => {
      const [{ byStart, identifiers }, applied] = await Promise.all([newOnFhir(before), appliedRows()]);
      const now = Date.now();
      const pushedIds = ids.filter((id) => (byStart.get(startOf(id))?.length ?? 0) > 0);
      for (const id of pushedIds) if (!firstSeen.has(id)) firstSeen.set(id, now);
      return {
        sent: ids.length,
        applied: applied - appliedBefore,
        pushed: pushedIds.length,
        lost: ids.length - pushedIds.length,
        // Resources beyond the first for one identifier, and identifiers beyond one per booking.
        duplicated:
          [...identifiers.values()].reduce((n, list) => n + list.length - 1, 0) +
          Math.max(0, identifiers.size - ids.length),
      };
    };
    const settled = await until(
      'every booking on the FHIR server and the outbox drained',
      async () => {
        const [f, depth] = await Promise.all([figures(), outboxDepth(db.url, fhirLinkId)]);
        return f.pushed === ids.length && depth.pending + depth.leased === 0 && { f, depth };
      },
      120_000,
      { everyMs: 200 },
    ).catch(async (e: unknown) => {
      throw new Error(
        `${String(e)}: ${JSON.stringify({ f: await figures(), depth: await outboxDepth(db.url, fhirLinkId) })}`,
      );
    });
    proxy.setShare(undefined);
    const seen = proxy.stats.requests.slice(requestsBefore).filter((r) => r.method === 'PUT');
    const faults = {
      429: seen.filter((r) => r.status === 429).length,
      500: seen.filter((r) => r.status === 500).length,
      hang: seen.filter((r) => r.outcome === 'hang').length,
    };
    const maxLagMs = Math.max(...ids.map((id) => (firstSeen.get(id) ?? 0) - (booked.get(id) ?? 0)));
    const line = { ...settled.f, conflicts: (await openConflicts()).length, maxLagMs };
    process.stdout.write(
      `fault fhir 429/500/hang: sent ${line.sent}, applied ${line.applied}, pushed ${line.pushed}, lost ${line.lost}, duplicated ${line.duplicated}, conflicts ${line.conflicts}, max lag ${line.maxLagMs} ms, ${appliedBefore} appointment(s) held before, server answered ${faults[429]} × 429, ${faults[500]} × 500, ${faults.hang} hang(s) in ${seen.length} PUT(s)\n`,
    );
    expect(line).toMatchObject({ sent: 24, applied: 24, pushed: 24, lost: 0, duplicated: 0, conflicts: 0 });
    expect(settled.depth.dead).toBe(0);
    expect(faults[429]).toBeGreaterThan(0);
    expect(faults[500]).toBeGreaterThan(0);
    expect(faults.hang).toBeGreaterThan(0);
  }, 180_000);

  it('turns a practice edit made on the FHIR server into a 412: a conflict where both sides moved the appointment, none where the practice changed only the comment', async () => {
    const before = new Set((await byIdentifier()).keys());
    const booked = await bookAll(6, 2);
    const ids = [...booked.keys()];
    const fhirIds = await until(
      'the bookings on the FHIR server',
      async () => {
        const { byStart } = await newOnFhir(before);
        const out: string[] = [];
        for (const id of ids) {
          const f = byStart.get(Date.parse(sim.state.get('appointment', id)?.start as string))?.[0]?.id;
          if (f === undefined) return false;
          out.push(f);
        }
        const depth = await outboxDepth(db.url, fhirLinkId);
        return depth.pending + depth.leased === 0 && out;
      },
      60_000,
      { everyMs: 200 },
    );
    const putsBefore = proxy.stats.requests.length;
    const targets = freeSlots(6, false);
    // The practice edits them in its software (passerelle does not poll it): half moved, half
    // only commented…
    const practiceStarts: string[] = [];
    for (const [n, fhirId] of fhirIds.entries()) {
      const current = await fhirRequest<FhirAppointment>(peer.url, 'GET', `Appointment/${fhirId}`);
      const changed: FhirAppointment =
        n < 3
          ? {
              ...current.body,
              start: new Date(Date.parse(current.body.start as string) + 5 * 60_000).toISOString(),
              end: new Date(Date.parse(current.body.end as string) + 5 * 60_000).toISOString(),
            }
          : { ...current.body, comment: `Note du cabinet ${n}` };
      practiceStarts.push(changed.start as string);
      const res = await fhirRequest(peer.url, 'PUT', `Appointment/${fhirId}`, changed, {
        'if-match': current.etag as string,
      });
      expect(res.status).toBe(200);
    }
    // …while the agents move every one of them on the platform.
    for (const [n, id] of ids.entries())
      await sim.agent('agent-0').move(id, { slotId: targets[n] as string });
    const agentStarts = ids.map((id) => sim.state.get('appointment', id)?.start as string);
    const handled = await until(
      'the moves handled',
      async () => {
        const depth = await outboxDepth(db.url, fhirLinkId);
        const conflicts = await openConflicts();
        const merged: string[] = [];
        for (const [n, fhirId] of fhirIds.entries())
          if (n >= 3) {
            const a = (await fhirRequest<FhirAppointment>(peer.url, 'GET', `Appointment/${fhirId}`)).body;
            if (Date.parse(a.start as string) === Date.parse(agentStarts[n] as string)) merged.push(fhirId);
          }
        return (
          depth.pending + depth.leased === 0 &&
          conflicts.length >= 3 &&
          merged.length === 3 && { conflicts, depth }
        );
      },
      60_000,
      { everyMs: 500 },
    );
    const puts412 = proxy.stats.requests
      .slice(putsBefore)
      .filter((r) => r.method === 'PUT' && r.outcome === 'forwarded' && r.status === 412).length;
    const held = await byIdentifier();
    const duplicated = [...held.values()].reduce((n, list) => n + list.length - 1, 0);
    process.stdout.write(
      `fault fhir 412: sent 6, moved by both sides 3, comment by the practice 3, ${puts412} × 412 from the server, conflicts ${handled.conflicts.length}, duplicated ${duplicated}, dead ${handled.depth.dead}\n`,
    );
    expect(puts412).toBeGreaterThanOrEqual(6);
    expect(duplicated).toBe(0);
    expect(handled.depth.dead).toBe(0);
    // One start/end conflict per appointment both sides moved; none where the practice changed
    // only the comment (its comment kept, the agent's time written).
    expect(handled.conflicts).toEqual(
      Array.from({ length: 3 }, () => expect.objectContaining({ kind: 'Appointment', paths: ['start/end'] })),
    );
    for (const [n, fhirId] of fhirIds.entries()) {
      const a = (await fhirRequest<FhirAppointment>(peer.url, 'GET', `Appointment/${fhirId}`)).body;
      if (n < 3) expect(a.start).toBe(practiceStarts[n]);
      else expect(a.comment).toBe(`Note du cabinet ${n}`);
    }
  }, 180_000);
});
