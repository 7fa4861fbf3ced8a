/**
 * The sync engine end to end between two in-memory peers (secretariat platform, practice
 * software), on the real SQLite file store and on PostgreSQL.
 */
import { Writable } from 'node:stream';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { createLogger } from '../../src/log/logger.js';
import type { Appointment, Communication, Patient, Schedule, Slot } from '../../src/model/resources.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { at, booking, seedAgenda, SyncHarness } from '../helpers/sync-harness.js';

const DAY = '2026-11-24';
const jeanne = fixturePatients()[0] as Patient;
const paul = fixturePatients()[1] as Patient;

describe.each(STORE_KINDS)('sync flows (%s store)', (kind) => {
  let h: SyncHarness;
  let agenda: { practitioner: string; schedule: string };
  let secPractitioner: string;

  let alerts: Record<string, unknown>[];

  beforeEach(async () => {
    alerts = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          alerts.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    h = await SyncHarness.open(kind, { logger: createLogger({ stream, level: 'warn' }) });
    agenda = seedAgenda(h.prac);
    await h.cycle();
    secPractitioner = (await h.counterpart('Practitioner', 'prac', agenda.practitioner)) as string;
  });
  afterEach(async () => {
    await h.dispose();
  });

  it('sends the practice’s practitioners and agendas to the secretariat with references in the secretariat’s ids', async () => {
    expect(secPractitioner).toMatch(/^sec-/);
    const [schedule] = h.sec.list<Schedule>('Schedule');
    expect(schedule?.actor[0]?.reference).toBe(`Practitioner/${secPractitioner}`);
    expect(h.prac.pushes).toEqual([]);
  });

  it('books a secretariat appointment into the practice software once, with its new patient, and fills the agenda columns', async () => {
    const secPatient = h.sec.create(structuredClone(paul));
    const secAppt = h.sec.create(booking(secPractitioner, secPatient, at(DAY, '09:00'), at(DAY, '09:20')));
    const result = await h.sec.deliver({ ids: [secPatient, secAppt] });
    expect(result.outcome).toBe('applied');
    await h.dispatch();

    const [practiceAppt] = h.prac.list<Appointment>('Appointment');
    const [practicePatient] = h.prac.list<Patient>('Patient');
    expect(practiceAppt).toMatchObject({ status: 'booked', start: at(DAY, '09:00') });
    expect(practiceAppt?.participant.map((p) => p.actor?.reference)).toEqual([
      `Practitioner/${agenda.practitioner}`,
      `Patient/${practicePatient?.id}`,
    ]);
    expect(h.prac.creations.size).toBe(2);

    const canonical = await h.store.resources.get(
      (await h.canonicalId('Appointment', 'sec', secAppt)) as string,
    );
    expect(canonical).toMatchObject({
      kind: 'Appointment',
      practitionerId: await h.canonicalId('Practitioner', 'prac', agenda.practitioner),
      patientId: await h.canonicalId('Patient', 'sec', secPatient),
      startAt: at(DAY, '09:00'),
      endAt: at(DAY, '09:20'),
      status: 'booked',
      origin: 'secretariat',
    });
    // The resend of the same webhook delivery is answered from the inbox, applied once.
    expect((await h.sec.deliver({ ids: [secPatient, secAppt], key: 'sec-delivery-1' })).outcome).toBe(
      'duplicate',
    );
  });

  it('fills a slot’s practitioner through its schedule', async () => {
    h.prac.create({
      resourceType: 'Slot',
      id: 'x',
      schedule: { reference: `Schedule/${agenda.schedule}` },
      status: 'busy-unavailable',
      start: at(DAY, '12:00'),
      end: at(DAY, '14:00'),
    } as Slot);
    await h.cycle();
    const [slot] = await h.store.resources.list({ practiceId: h.practiceId, kind: 'Slot' });
    expect(slot).toMatchObject({
      practitionerId: await h.canonicalId('Practitioner', 'prac', agenda.practitioner),
      status: 'busy-unavailable',
      startAt: at(DAY, '12:00'),
    });
    expect(h.sec.list('Slot')).toHaveLength(1);
  });

  it('makes no echo write: what passerelle wrote to a side does not come back to the other, nor to itself', async () => {
    const secPatient = h.sec.create(structuredClone(paul));
    const secAppt = h.sec.create(booking(secPractitioner, secPatient, at(DAY, '09:00'), at(DAY, '09:20')));
    await h.sec.deliver();
    await h.dispatch();
    h.prac.overlap = 5;
    h.sec.overlap = 5;
    const secPushes = h.sec.pushes.length;
    const pracPushes = h.prac.pushes.length;
    for (let i = 0; i < 3; i++) await h.cycle();
    expect(h.sec.pushes.length).toBe(secPushes);
    expect(h.prac.pushes.length).toBe(pracPushes);
    // A real change goes through once, and its own echo is suppressed in turn.
    const pracAppt = (await h.counterpart('Appointment', 'sec', secAppt)) as string;
    h.prac.edit<Appointment>(pracAppt, (a) => ({ ...a, status: 'arrived' }));
    for (let i = 0; i < 3; i++) await h.cycle();
    expect(h.sec.get<Appointment>(secAppt).status).toBe('arrived');
    expect(h.sec.pushes.slice(secPushes).map((p) => p.effect)).toEqual(['updated']);
    expect(h.prac.pushes.length).toBe(pracPushes);
    expect([...h.sec.echoWrites(), ...h.prac.echoWrites()]).toEqual([]);
  });

  it('refuses a secretariat booking on a slot the practice blocked, tells the agent why, and keeps nothing', async () => {
    h.prac.create({
      resourceType: 'Slot',
      id: 'x',
      schedule: { reference: `Schedule/${agenda.schedule}` },
      status: 'busy-unavailable',
      start: at(DAY, '12:00'),
      end: at(DAY, '14:00'),
    } as Slot);
    await h.cycle();
    const secPatient = h.sec.create(structuredClone(paul));
    await h.sec.deliver();
    const secAppt = h.sec.create(booking(secPractitioner, secPatient, at(DAY, '13:00'), at(DAY, '13:15')));
    const result = await h.sec.deliver({ ids: [secAppt] });
    expect(result.outcome).toBe('rejected');
    await h.dispatch();
    expect(h.prac.list('Appointment')).toEqual([]);
    expect(await h.store.resources.list({ practiceId: h.practiceId, kind: 'Appointment' })).toEqual([]);
    expect(h.sec.rejects).toEqual([
      {
        externalId: secAppt,
        reason: {
          code: 'ERR_SYNC_SLOT_UNAVAILABLE',
          message: expect.stringContaining('bloqué par le cabinet'),
        },
      },
    ]);
    // The secretariat marks it cancelled; that comes back on the next poll and is not news.
    expect(h.sec.get<Appointment>(secAppt).status).toBe('cancelled');
    await h.cycle();
    expect(h.prac.list('Appointment')).toEqual([]);
    expect(h.sec.rejects).toHaveLength(1);
  });

  it('refuses a second booking of the same practitioner at the same time, never double-booking', async () => {
    const pracPatient = h.prac.create(structuredClone(jeanne));
    h.prac.create(booking(agenda.practitioner, pracPatient, at(DAY, '10:00'), at(DAY, '10:30')));
    await h.cycle();
    const secPatient = h.sec.create(structuredClone(paul));
    h.sec.create(booking(secPractitioner, secPatient, at(DAY, '10:15'), at(DAY, '10:45')));
    expect((await h.sec.deliver()).outcome).toBe('rejected');
    await h.dispatch();
    expect(h.prac.list('Appointment')).toHaveLength(1);
    expect(h.sec.rejects[0]?.reason.message).toContain('déjà occupé');
    // Nothing of the refused message was kept, not even its new patient.
    expect(await h.canonicalId('Patient', 'sec', secPatient)).toBeUndefined();
  });

  it('keeps per-record order: the practice ends with the latest of several quick changes, never an older one after it', async () => {
    const secPatient = h.sec.create(structuredClone(paul));
    const secAppt = h.sec.create(booking(secPractitioner, secPatient, at(DAY, '09:00'), at(DAY, '09:20')));
    await h.sec.deliver();
    await h.dispatch();
    h.prac.reachable = false;
    for (const [i, hh] of ['10', '11', '15'].entries()) {
      h.sec.edit<Appointment>(secAppt, (a) => ({
        ...a,
        start: at(DAY, `${hh}:00`),
        end: at(DAY, `${hh}:20`),
        comment: `move ${i}`,
      }));
      expect((await h.sec.deliver()).outcome).toBe('applied');
      await h.dispatch();
    }
    h.prac.reachable = true;
    await h.dispatch();
    const pracAppt = (await h.counterpart('Appointment', 'sec', secAppt)) as string;
    expect(h.prac.get<Appointment>(pracAppt)).toMatchObject({ start: at(DAY, '15:00'), comment: 'move 2' });
    const canonical = await h.canonicalId('Appointment', 'sec', secAppt);
    const written = h.prac.pushes.filter(
      (p) => (p.effect === 'updated' || p.effect === 'created') && p.change.canonicalId === canonical,
    );
    const starts = written.map((p) => (p.change.data as Appointment).start);
    // Created at 09:00, then straight to the latest state: older queued states are superseded.
    expect(starts).toEqual([at(DAY, '09:00'), at(DAY, '15:00')]);
  });

  /** A call message taken by the secretariat about `patient` for the practice's practitioner. */
  const callMessage = (
    patient: string,
    text: string,
    priority: Communication['priority'],
  ): Communication => ({
    resourceType: 'Communication',
    id: 'x',
    status: 'completed',
    priority,
    subject: { reference: `Patient/${patient}` },
    recipient: [{ reference: `Practitioner/${secPractitioner}` }],
    payload: [{ contentString: text }],
  });

  it('delivers urgent call messages ahead of routine work', async () => {
    h.prac.reachable = false;
    const secPatient = h.sec.create(structuredClone(paul));
    const message = (text: string, priority: Communication['priority']) =>
      callMessage(secPatient, text, priority);
    for (let i = 0; i < 3; i++) h.sec.create(message(`appel ${i}`, 'routine'));
    h.sec.create(message('douleur thoracique', 'stat'));
    await h.sec.deliver();
    await h.dispatch();
    h.prac.reachable = true;
    await h.dispatch();
    const created = h.prac.pushes
      .filter((p) => p.effect === 'created' && p.change.kind === 'Communication')
      .map((p) => (p.change.data as Communication).priority);
    expect(created).toEqual(['stat', 'routine', 'routine', 'routine']);
  });

  it('delivers an urgent call message first when the practice software comes back in the middle of a batch (issue 9, scenario 3)', async () => {
    const secPatient = h.sec.create(structuredClone(paul));
    await h.sec.deliver();
    await h.dispatch();
    const message = (text: string, priority: Communication['priority']) =>
      callMessage(secPatient, text, priority);
    for (let i = 0; i < 3; i++) h.sec.create(message(`rappel ${i}`, 'routine'));
    h.sec.create(message('malaise', 'urgent'));
    await h.sec.deliver();
    const from = h.prac.pushes.length;
    // One batch, urgent first: its push fails, then the peer is back for the routine ones.
    h.prac.unreachableFor = 1;
    await h.runtime.dispatcher.drain();
    await h.dispatch();
    const created = h.prac.pushes
      .slice(from)
      .filter((p) => p.effect === 'created' && p.change.kind === 'Communication')
      .map((p) => (p.change.data as Communication).priority);
    expect(created).toEqual(['urgent', 'routine', 'routine', 'routine']);
  });

  it('retries with backoff, honours Retry-After, parks a poison change in dead letters with one alert, and replays it', async () => {
    h.prac.failPushes = { code: 'ERR_CONNECTOR_UNAVAILABLE', retryAfterSeconds: 3600 };
    const secPatient = h.sec.create(structuredClone(paul));
    await h.sec.deliver();
    await h.runtime.dispatcher.drain();
    const [row] = await h.store.outbox.list({ linkId: h.pracLink.id });
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastErrorCode: 'ERR_CONNECTOR_UNAVAILABLE' });
    expect((row?.nextAttemptAt ?? 0) - h.clock()).toBeGreaterThanOrEqual(3_600_000);
    h.clock.advance(30 * 60_000);
    expect(await h.runtime.dispatcher.drain()).toBe(0);
    for (let i = 0; i < 6; i++) {
      h.clock.advance(2 * 3_600_000);
      await h.runtime.dispatcher.drain();
    }
    const dead = await h.store.deadLetters.list({ linkId: h.pracLink.id, status: 'open' });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      source: 'outbox',
      reasonCode: 'ERR_CONNECTOR_UNAVAILABLE',
      attempts: 5,
      recordId: await h.canonicalId('Patient', 'sec', secPatient),
    });
    expect(h.prac.pushes.filter((p) => p.effect === 'failed')).toHaveLength(5);

    h.prac.failPushes = undefined;
    const replay = await h.runtime.operator.replayDeadLetter(dead[0]?.id as string, { id: 'test' });
    expect(replay.outcome).toBe('requeued');
    expect((await h.runtime.operator.replayDeadLetter(dead[0]?.id as string, { id: 'test' })).outcome).toBe(
      'already-replayed',
    );
    await h.dispatch();
    expect(h.prac.list('Patient')).toHaveLength(1);
    expect(h.prac.duplicateCreations()).toEqual([]);
  });

  it('alerts once per record and cause, however many of its changes are parked', async () => {
    h.prac.failPushes = { code: 'ERR_CONNECTOR_REJECTED' };
    const secPatient = h.sec.create(structuredClone(paul));
    await h.sec.deliver();
    await h.dispatch();
    h.sec.edit<Patient>(secPatient, (p) => ({ ...p, telecom: [{ system: 'phone', value: '+33611112222' }] }));
    await h.sec.deliver();
    await h.dispatch();
    expect(await h.store.deadLetters.count({ status: 'open', linkId: h.pracLink.id })).toBe(2);
    expect(alerts.filter((l) => l['alert'] === 'sync.dead-letter')).toHaveLength(1);
    expect(JSON.stringify(alerts)).not.toContain('DEMONSTRATION');
  });

  it('dead-letters a peer’s refusal at once and an inbound record it cannot place, each replayable', async () => {
    h.prac.failPushes = { code: 'ERR_CONNECTOR_REJECTED' };
    h.sec.create(structuredClone(paul));
    await h.sec.deliver();
    await h.runtime.dispatcher.drain();
    expect(await h.store.deadLetters.list({ linkId: h.pracLink.id })).toMatchObject([
      { reasonCode: 'ERR_CONNECTOR_REJECTED', attempts: 1 },
    ]);

    // An appointment naming a patient the secretariat never sent: invalid, kept for replay.
    const orphan = h.sec.create(booking(secPractitioner, 'sec-unknown', at(DAY, '16:00'), at(DAY, '16:20')));
    expect((await h.sec.deliver({ ids: [orphan] })).outcome).toBe('invalid');
    const [inbound] = await h.store.deadLetters.list({ linkId: h.secLink.id, source: 'inbox' });
    expect(inbound).toMatchObject({ reasonCode: 'ERR_SYNC_UNKNOWN_REFERENCE' });
    h.sec.create(structuredClone(jeanne), 'sec-unknown');
    await h.sec.deliver({ ids: ['sec-unknown'] });
    expect((await h.runtime.operator.replayDeadLetter(inbound?.id as string, { id: 'test' })).outcome).toBe(
      'applied',
    );
    h.prac.failPushes = undefined;
    await h.runtime.operator.replayMany({ linkId: h.pracLink.id }, { id: 'test' });
    await h.dispatch();
    expect(h.prac.list('Appointment')).toHaveLength(1);
    expect(h.prac.list('Patient')).toHaveLength(2);
  });

  it('re-merges when the peer changed the record since our base (412), losing neither change', async () => {
    const pracPatient = h.prac.create(structuredClone(jeanne));
    await h.cycle();
    const secPatient = (await h.counterpart('Patient', 'prac', pracPatient)) as string;
    // The secretariat changes the phone; the practice changes the address at the same time.
    h.sec.edit<Patient>(secPatient, (p) => ({
      ...p,
      telecom: [
        { system: 'phone', value: '+33699999999' },
        ...(p.telecom ?? []).filter((t) => t.system !== 'phone'),
      ],
    }));
    await h.sec.deliver();
    h.prac.edit<Patient>(pracPatient, (p) => ({
      ...p,
      address: [{ line: ['1 rue Neuve'], city: 'Autreville', postalCode: '75001', country: 'FR' }],
    }));
    await h.dispatch(); // the push to the practice carries a stale version → 412 → re-merge
    expect(h.prac.pushes.some((p) => p.effect === 'stale')).toBe(true);
    await h.cycle();
    await h.cycle();
    for (const p of [h.prac.get<Patient>(pracPatient), h.sec.get<Patient>(secPatient)]) {
      expect(p.telecom?.find((t) => t.system === 'phone')?.value).toBe('+33699999999');
      expect(p.address?.[0]?.city).toBe('Autreville');
    }
    expect(await h.store.conflicts.list({ status: 'open' })).toEqual([]);
    expect([...h.sec.echoWrites(), ...h.prac.echoWrites()]).toEqual([]);
  });

  it('parks a change in dead letters when the peer calls its own current version stale, instead of re-merging forever', async () => {
    const pracPatient = h.prac.create(structuredClone(jeanne));
    await h.cycle();
    const secPatient = (await h.counterpart('Patient', 'prac', pracPatient)) as string;
    h.prac.brokenIfMatch = true;
    h.sec.edit<Patient>(secPatient, (p) => ({ ...p, telecom: [{ system: 'phone', value: '+33655555555' }] }));
    await h.sec.deliver();
    await h.dispatch();
    expect(h.prac.pushes.filter((p) => p.effect === 'stale')).toHaveLength(1);
    expect(await h.store.deadLetters.list({ linkId: h.pracLink.id })).toMatchObject([
      { reasonCode: 'ERR_SYNC_CONFLICT' },
    ]);
  });

  it('resolves a conflict by value on a patient of a test link, and sends the chosen value to both sides', async () => {
    const reviewed = await SyncHarness.open(kind, {
      ownership: () => ({ Patient: { fields: { name: 'review' } } }),
    });
    try {
      seedAgenda(reviewed.prac);
      const pracPatient = reviewed.prac.create(structuredClone(jeanne));
      await reviewed.cycle();
      const secPatient = (await reviewed.counterpart('Patient', 'prac', pracPatient)) as string;
      const rename =
        (family: string) =>
        (p: Patient): Patient => ({
          ...p,
          name: (p.name ?? []).map((n) => (n.use === 'official' ? { ...n, family } : n)),
        });
      reviewed.prac.edit<Patient>(pracPatient, rename('FICTIVE-PRATIQUE'));
      reviewed.sec.edit<Patient>(secPatient, rename('FICTIVE-SECRETARIAT'));
      await reviewed.cycle();
      const [conflict] = await reviewed.store.conflicts.list({ status: 'open' });
      expect(conflict?.fields.map((f) => f.path)).toEqual(['name[use=official]']);
      const chosen = { use: 'official', family: 'FICTIVE-CHOISIE', given: ['Jeanne', 'Odile'] };
      await reviewed.runtime.operator.resolveConflict(
        conflict?.id as string,
        { values: { 'name[use=official]': chosen } },
        { id: 'test' },
      );
      await reviewed.cycle();
      await reviewed.cycle();
      expect(reviewed.prac.get<Patient>(pracPatient).name?.find((n) => n.use === 'official')).toEqual(chosen);
      expect(reviewed.sec.get<Patient>(secPatient).name?.find((n) => n.use === 'official')).toEqual(chosen);
      expect((await reviewed.store.audit.list({ action: 'conflict.resolve' }))[0]).toMatchObject({
        actor: 'test',
        patientId: await reviewed.canonicalId('Patient', 'prac', pracPatient),
      });
    } finally {
      await reviewed.dispose();
    }
  });

  it('holds each pulled patient who looks like one filed earlier in the same page for review, with every earlier lookalike as candidate', async () => {
    const lookalike = (given: string): Patient => ({
      resourceType: 'Patient',
      id: 'x',
      name: [{ family: 'Fictive', given: [given] }],
      birthDate: '1975-04-12',
      gender: 'female',
    });
    const ids = ['Aline', 'Berthe', 'Carole'].map((given) => h.prac.create(lookalike(given)));
    await h.cycle();
    const canonical = await Promise.all(
      ids.map(async (id) => (await h.canonicalId('Patient', 'prac', id)) as string),
    );
    const reviews = await h.store.reviews.list({ status: 'open', type: 'patient-match' });
    const candidatesOf = (id: string) => reviews.find((r) => r.recordId === id)?.payload['candidates'];
    expect(reviews).toHaveLength(2);
    expect(candidatesOf(canonical[0] as string)).toBeUndefined();
    expect(candidatesOf(canonical[1] as string)).toEqual([canonical[0]]);
    expect(candidatesOf(canonical[2] as string)).toEqual([canonical[0], canonical[1]].sort());
  });

  it('holds a secretariat patient who looks like a known one for review, never merging on its own', async () => {
    const pracPatient = h.prac.create(structuredClone(jeanne));
    await h.cycle();
    // Same person typed by an agent: no INS, same family name, birth date and sex.
    const lookalike: Patient = {
      resourceType: 'Patient',
      id: 'x',
      name: [{ family: 'Fictive', given: ['Jeanne'] }],
      birthDate: jeanne.birthDate as string,
      gender: 'female',
      telecom: [{ system: 'phone', value: '+33688888888' }],
    };
    const secNew = h.sec.create(lookalike);
    const secAppt = h.sec.create(booking(secPractitioner, secNew, at(DAY, '11:00'), at(DAY, '11:20')));
    const result = await h.sec.deliver();
    expect(result.flags).toEqual(expect.arrayContaining(['patient-review', 'held-for-review']));
    await h.dispatch();
    expect(h.prac.list('Patient')).toHaveLength(1);
    expect(h.prac.list('Appointment')).toEqual([]);
    const [review] = await h.store.reviews.list({ status: 'open' });
    const known = (await h.canonicalId('Patient', 'prac', pracPatient)) as string;
    expect(review).toMatchObject({ type: 'patient-match', payload: { candidates: [known] } });
    expect(
      await h.store.outbox.list({
        linkId: h.pracLink.id,
        status: 'pending',
        lastErrorCode: 'ERR_SYNC_REVIEW_PENDING',
      }),
    ).toHaveLength(1);

    await h.runtime.operator.resolveReview(
      review?.id as string,
      { action: 'link', patientId: known },
      { id: 'test' },
    );
    await h.dispatch();
    await h.cycle();
    const [appt] = h.prac.list<Appointment>('Appointment');
    expect(appt?.participant.find((p) => p.actor?.reference?.startsWith('Patient/'))?.actor?.reference).toBe(
      `Patient/${pracPatient}`,
    );
    expect(h.prac.list('Patient')).toHaveLength(1);
    // The agent's phone number is a contact detail: last writer wins, on both sides.
    expect(h.prac.get<Patient>(pracPatient).telecom?.find((t) => t.system === 'phone')?.value).toBe(
      '+33688888888',
    );
    expect(h.prac.get<Patient>(pracPatient).name?.[0]?.family).toBe('FICTIVE');
    expect(await h.canonicalId('Appointment', 'sec', secAppt)).toBeDefined();
  });

  it('links a patient by qualified INS without review', async () => {
    const pracPatient = h.prac.create(structuredClone(jeanne));
    await h.cycle();
    const secCopy = h.sec.create({
      ...structuredClone(jeanne),
      telecom: [{ system: 'phone', value: '+33677777777' }],
    });
    const result = await h.sec.deliver({ ids: [secCopy] });
    expect(result.flags).toContain('patient-matched-ins');
    expect(await h.canonicalId('Patient', 'sec', secCopy)).toBe(
      await h.canonicalId('Patient', 'prac', pracPatient),
    );
    expect(await h.store.reviews.list({ status: 'open' })).toEqual([]);
  });

  it('loses nothing and sends nothing twice across a restart with changes waiting and a lost answer', async () => {
    h.prac.reachable = false;
    const secPatient = h.sec.create(structuredClone(paul));
    for (let i = 0; i < 4; i++)
      h.sec.create(booking(secPractitioner, secPatient, at(DAY, `0${i + 6}:00`), at(DAY, `0${i + 6}:30`)));
    await h.sec.deliver();
    await h.dispatch();
    await h.restart();
    h.prac.reachable = true;
    h.prac.dropResponses = 2; // applied by the peer, answer lost: retried with the same key
    await h.dispatch();
    await h.restart();
    await h.dispatch();
    await h.cycle();
    expect(h.prac.list('Appointment')).toHaveLength(4);
    expect(h.prac.list('Patient')).toHaveLength(1);
    expect(h.prac.pushes.filter((p) => p.effect === 'replayed').length).toBeGreaterThanOrEqual(1);
    expect(h.prac.duplicateCreations()).toEqual([]);
    expect(await h.store.outbox.depth(h.pracLink.id)).toMatchObject({ pending: 0, leased: 0, dead: 0 });
  });
});
