/**
 * Property: whatever the interleaving of edits on both sides, deliveries, polls, dispatch,
 * outages, lost answers and restarts, the two sides converge within two poll cycles once the
 * peers are reachable again, passerelle writes nothing a side already holds (zero echo
 * writes), every field edited differently on both sides is flagged as a conflict (and nothing
 * else is, beyond edits ownership refused), and each field ends where its owner says.
 *
 * Each run starts from a synced practice (one patient, two appointments — one booked by each
 * side — on separate days so the agenda invariant never interferes). A round is: random edits
 * on both sides, then random sync steps with faults (outages, lost answers, restarts, webhook
 * resends, pull overlap windows); then the peers are healed, two poll cycles run, the outcome
 * is checked against the ownership model, open conflicts are resolved by a random side, and
 * two more cycles must bring full agreement.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { otherRole, type Owner } from '../../src/model/ownership.js';
import type { Appointment, CanonicalResource, Patient } from '../../src/model/resources.js';
import type { LinkRole } from '../../src/store/types.js';
import { fixturePatients } from '../helpers/fixtures.js';
import type { MemoryPeer } from '../helpers/memory-connector.js';
import { at, booking, seedAgenda, SyncHarness } from '../helpers/sync-harness.js';

type Side = 'sec' | 'prac';
const ROLE: Record<Side, LinkRole> = { sec: 'secretariat', prac: 'practice' };

interface FieldSpec {
  readonly path: string;
  readonly owner: Owner;
  read(r: CanonicalResource): unknown;
  write(r: CanonicalResource, n: number, record: number): CanonicalResource;
}

const DAYS = ['2026-12-01', '2026-12-02', '2026-12-03'];
const minutes = (day: string, n: number) =>
  new Date(Date.parse(`${day}T07:00:00.000Z`) + n * 60_000).toISOString();

const PATIENT_FIELDS: readonly FieldSpec[] = [
  {
    path: 'telecom[system=phone]',
    owner: 'last-writer',
    read: (r) => (r as Patient).telecom?.find((t) => t.system === 'phone')?.value,
    write: (r, n) => ({
      ...(r as Patient),
      telecom: [
        ...((r as Patient).telecom ?? []).filter((t) => t.system !== 'phone'),
        { system: 'phone', value: `+3360000${String(n).padStart(4, '0')}` },
      ],
    }),
  },
  {
    path: 'telecom[system=email]',
    owner: 'last-writer',
    read: (r) => (r as Patient).telecom?.find((t) => t.system === 'email')?.value,
    write: (r, n) => ({
      ...(r as Patient),
      telecom: [
        ...((r as Patient).telecom ?? []).filter((t) => t.system !== 'email'),
        { system: 'email', value: `patient${n}@example.org` },
      ],
    }),
  },
  {
    path: 'address[use=-]',
    owner: 'last-writer',
    read: (r) => (r as Patient).address?.[0]?.city,
    write: (r, n) => ({
      ...(r as Patient),
      address: [{ ...((r as Patient).address?.[0] ?? {}), city: `Ville${n}` }],
    }),
  },
  {
    path: 'name[use=official]',
    owner: 'practice',
    read: (r) => (r as Patient).name?.find((x) => x.use === 'official')?.family,
    write: (r, n) => ({
      ...(r as Patient),
      name: ((r as Patient).name ?? []).map((x) => (x.use === 'official' ? { ...x, family: `NOM${n}` } : x)),
    }),
  },
];
const APPOINTMENT_FIELDS: readonly FieldSpec[] = [
  {
    path: 'start/end',
    owner: 'review',
    read: (r) => (r as Appointment).start,
    write: (r, n, record) => ({
      ...(r as Appointment),
      start: minutes(DAYS[record] as string, n),
      end: minutes(DAYS[record] as string, n + 15),
    }),
  },
  {
    path: 'comment',
    owner: 'last-writer',
    read: (r) => (r as Appointment).comment,
    write: (r, n) => ({ ...(r as Appointment), comment: `note ${n}` }),
  },
  {
    path: 'description',
    owner: 'secretariat',
    read: (r) => (r as Appointment).description,
    write: (r, n) => ({ ...(r as Appointment), description: `motif ${n}` }),
  },
  {
    path: 'patientInstruction',
    owner: 'practice',
    read: (r) => (r as Appointment).patientInstruction,
    write: (r, n) => ({ ...(r as Appointment), patientInstruction: `consigne ${n}` }),
  },
];
const fieldsOf = (record: number) => (record === 0 ? PATIENT_FIELDS : APPOINTMENT_FIELDS);

const STEPS = [
  'pollSec',
  'pollPrac',
  'deliverSec',
  'deliverPrac',
  'redeliverSec',
  'redeliverPrac',
  'dispatch',
  'outageSec',
  'outagePrac',
  'heal',
  'restart',
  'dropSec',
  'dropPrac',
  'overlap',
] as const;
type Step = (typeof STEPS)[number];

const side = fc.constantFrom<Side>('sec', 'prac');
const round = fc.record({
  edits: fc.array(
    fc.record({ side, record: fc.integer({ min: 0, max: 2 }), field: fc.integer({ min: 0, max: 3 }) }),
    { maxLength: 8 },
  ),
  steps: fc.array(fc.constantFrom<Step>(...STEPS), { maxLength: 10 }),
  resolveWith: side,
});
const scenario = fc.array(round, { minLength: 1, maxLength: 3 });

interface Round {
  readonly edits: readonly { side: Side; record: number; field: number }[];
  readonly steps: readonly Step[];
  readonly resolveWith: Side;
}

async function runScenario(rounds: readonly Round[]): Promise<void> {
  const h = await SyncHarness.open('sqlite', {
    ownership: () => ({
      Appointment: {
        fields: { comment: 'last-writer', description: 'secretariat', patientInstruction: 'practice' },
      },
    }),
    tuning: { maxAttempts: 1000 },
  });
  try {
    // A synced starting point: the practice's patient and appointment, the secretariat's appointment.
    const agenda = seedAgenda(h.prac);
    const peers: Record<Side, MemoryPeer> = { sec: h.sec, prac: h.prac };
    const pracPatient = h.prac.create({
      ...structuredClone(fixturePatients()[0] as Patient),
      address: [{ city: 'Testville' }],
    });
    const pracAppt = h.prac.create(
      booking(
        agenda.practitioner,
        pracPatient,
        minutes(DAYS[1] as string, 0),
        minutes(DAYS[1] as string, 15),
        {
          comment: 'note 0',
          description: 'motif 0',
          patientInstruction: 'consigne 0',
        } as Partial<Appointment>,
      ),
    );
    await h.cycle();
    const secPractitioner = (await h.counterpart('Practitioner', 'prac', agenda.practitioner)) as string;
    const secPatient = (await h.counterpart('Patient', 'prac', pracPatient)) as string;
    const secAppt = h.sec.create(
      booking(secPractitioner, secPatient, at(DAYS[2] as string, '07:00'), at(DAYS[2] as string, '07:15'), {
        comment: 'note 0',
        description: 'motif 0',
        patientInstruction: 'consigne 0',
      } as Partial<Appointment>),
    );
    await h.sec.deliver();
    await h.cycle();
    await h.cycle();
    const ids: Record<Side, string[]> = {
      prac: [pracPatient, pracAppt, (await h.counterpart('Appointment', 'sec', secAppt)) as string],
      sec: [secPatient, (await h.counterpart('Appointment', 'prac', pracAppt)) as string, secAppt],
    };
    const canonical = await Promise.all(
      ids.prac.map(
        async (id, i) => (await h.canonicalId(i === 0 ? 'Patient' : 'Appointment', 'prac', id)) as string,
      ),
    );
    const read = (s: Side, record: number, field: number) =>
      (fieldsOf(record)[field] as FieldSpec).read(peers[s].get(ids[s][record] as string));

    let counter = 1;
    for (const r of rounds) {
      const agreed = [0, 1, 2].map((record) =>
        fieldsOf(record).map((_, field) => read('prac', record, field)),
      );
      const lastEdit = new Map<string, unknown>(); // `${side}|${record}|${field}` → value
      for (const e of r.edits) {
        const spec = fieldsOf(e.record)[e.field] as FieldSpec;
        const n = counter++;
        peers[e.side].edit(ids[e.side][e.record] as string, (data) => spec.write(data, n, e.record));
        lastEdit.set(
          `${e.side}|${e.record}|${e.field}`,
          spec.read(peers[e.side].get(ids[e.side][e.record] as string)),
        );
      }
      const roundStart = new Date(h.clock()).toISOString();
      for (const step of r.steps) {
        if (step === 'pollSec') await h.runtime.pollLink(h.secLink.id);
        else if (step === 'pollPrac') await h.runtime.pollLink(h.pracLink.id);
        else if (step === 'deliverSec') await h.sec.deliver();
        else if (step === 'deliverPrac') await h.prac.deliver();
        else if (step === 'dispatch') await h.dispatch();
        else if (step === 'outageSec') h.sec.reachable = false;
        else if (step === 'outagePrac') h.prac.reachable = false;
        else if (step === 'heal') h.sec.reachable = h.prac.reachable = true;
        else if (step === 'restart') await h.restart();
        else if (step === 'dropSec') h.sec.dropResponses = 1;
        else if (step === 'redeliverSec')
          expect((await h.sec.redeliver())?.outcome ?? 'duplicate').toBe('duplicate');
        else if (step === 'redeliverPrac')
          expect((await h.prac.redeliver())?.outcome ?? 'duplicate').toBe('duplicate');
        else if (step === 'overlap') h.sec.overlap = h.prac.overlap = 4;
        else h.prac.dropResponses = 1;
      }
      // Peers reachable again: two poll cycles must be enough.
      h.sec.reachable = h.prac.reachable = true;
      await h.cycle();
      await h.cycle();

      const flagged = new Set(
        (await h.store.conflicts.list({ practiceId: h.practiceId, limit: 10_000 }))
          .filter((c) => c.createdAt >= roundStart)
          .flatMap((c) => c.fields.map((f) => `${c.recordId}|${f.path}`)),
      );
      for (const record of [0, 1, 2]) {
        for (const [field, spec] of fieldsOf(record).entries()) {
          const where = `round ${rounds.indexOf(r)} record ${record} ${spec.path}`;
          const vs = lastEdit.get(`sec|${record}|${field}`);
          const vp = lastEdit.get(`prac|${record}|${field}`);
          const held = { sec: read('sec', record, field), prac: read('prac', record, field) };
          const key = `${canonical[record]}|${spec.path}`;
          if (vs !== undefined && vp !== undefined) {
            expect([where, flagged.has(key)]).toEqual([where, true]);
            if (spec.owner === 'review') expect([where, held]).toEqual([where, { sec: vs, prac: vp }]);
            else {
              expect([where, held.sec]).toEqual([where, held.prac]);
              const winner: unknown[] =
                spec.owner === 'practice' ? [vp] : spec.owner === 'secretariat' ? [vs] : [vs, vp];
              expect([where, winner.includes(held.sec)]).toEqual([where, true]);
            }
          } else {
            const editor: Side | undefined = vs !== undefined ? 'sec' : vp !== undefined ? 'prac' : undefined;
            const refused = editor !== undefined && spec.owner === otherRole(ROLE[editor]);
            const expected =
              editor === undefined || refused ? agreed[record]?.[field] : editor === 'sec' ? vs : vp;
            expect([where, held]).toEqual([where, { sec: expected, prac: expected }]);
            if (!refused) expect([where, flagged.has(key)]).toEqual([where, false]);
          }
        }
      }
      expect([...h.sec.echoWrites(), ...h.prac.echoWrites()]).toEqual([]);
      expect([...h.sec.duplicateCreations(), ...h.prac.duplicateCreations()]).toEqual([]);

      // An operator settles what waits for review; then everything agrees everywhere.
      for (const c of await h.store.conflicts.list({ practiceId: h.practiceId, status: 'open' })) {
        await h.runtime.operator.resolveConflict(
          c.id,
          { side: r.resolveWith === 'sec' ? 'secretariat' : 'practice' },
          { id: 'property-test' },
        );
      }
      await h.cycle();
      await h.cycle();
      for (const record of [0, 1, 2]) {
        const stored = (await h.store.resources.get(canonical[record] as string))
          ?.data as unknown as CanonicalResource;
        for (const [field, spec] of fieldsOf(record).entries()) {
          expect([record, spec.path, read('sec', record, field)]).toEqual([
            record,
            spec.path,
            read('prac', record, field),
          ]);
          expect([record, spec.path, spec.read(stored)]).toEqual([
            record,
            spec.path,
            read('prac', record, field),
          ]);
        }
      }
      expect(await h.store.outbox.depth()).toMatchObject({ pending: 0, leased: 0, dead: 0 });
      expect([...h.sec.echoWrites(), ...h.prac.echoWrites()]).toEqual([]);
    }
  } finally {
    await h.dispose();
  }
}

describe('sync convergence property', () => {
  it('converges within two poll cycles after any interleaving of edits, outages and restarts, with no echo write and every concurrent edit flagged', async () => {
    await fc.assert(fc.asyncProperty(scenario, runScenario), { numRuns: 50, endOnFailure: true });
  }, 180_000);
});
