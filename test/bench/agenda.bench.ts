/**
 * Issue 20's benchmark: free slots of 50 practitioners × 90 days with 20,000 appointments in the
 * store (rules read, appointments and slots read, slots computed), beside reading the same
 * appointments from the store in the same run. Aim: ≤ 2× that baseline.
 */
import { performance } from 'node:perf_hooks';

import type { Store } from '../../src/store/index.js';
import { availabilityOf } from '../../src/sync/agenda-rules.js';
import { openTestStore } from '../helpers/stores.js';
import { type Bench, percentile } from './harness.js';

const PRACTITIONERS = 50;
const APPOINTMENTS = 20_000;
const FROM = '2027-01-04T00:00:00.000Z'; // a Monday
const DAYS = 90;
const TO = new Date(Date.parse(FROM) + DAYS * 86_400_000).toISOString();
const RULES = {
  weekly: [
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '12:00' },
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '14:00', end: '19:00' },
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '12:00', end: '13:00', kind: 'urgent' },
  ],
  visitTypes: [{ code: 'CONS', label: 'Consultation', durationMinutes: 20, bufferMinutes: 5 }],
  absences: [{ fromDate: '2027-02-15', toDate: '2027-02-19' }],
};

async function fill(store: Store, practiceId: string): Promise<void> {
  await store.transaction(async (tx) => {
    for (let p = 0; p < PRACTITIONERS; p++) {
      const practitionerId = `prat-${p}`;
      await tx.resources.put({
        id: practitionerId,
        practiceId,
        kind: 'Practitioner',
        data: { resourceType: 'Practitioner', id: practitionerId } as never,
        origin: 'practice',
        expectedVersion: 0,
      });
      await tx.agenda.putRules({ practiceId, practitionerId, rules: RULES as never, updatedBy: 'bench' });
      const per = APPOINTMENTS / PRACTITIONERS;
      for (let i = 0; i < per; i++) {
        // Spread over the 90 days, on the hour between 07:00Z and 17:00Z.
        const day = Math.floor((i * DAYS) / per);
        const start = Date.parse(FROM) + day * 86_400_000 + (7 + (i % 10)) * 3_600_000;
        const id = `appt-${p}-${i}`;
        const a = {
          resourceType: 'Appointment',
          id,
          status: 'booked',
          serviceType: [{ coding: [{ code: 'CONS' }] }],
          start: new Date(start).toISOString(),
          end: new Date(start + 20 * 60_000).toISOString(),
          participant: [{ actor: { reference: `Practitioner/${practitionerId}` }, status: 'accepted' }],
        };
        await tx.resources.put({
          id,
          practiceId,
          kind: 'Appointment',
          data: a as never,
          origin: 'practice',
          expectedVersion: 0,
          startAt: a.start,
          endAt: a.end,
          practitionerId,
          status: 'booked',
        });
      }
    }
  });
}

const bench: Bench = {
  name: 'agenda: free slots of 50 practitioners × 90 days, 20,000 appointments',
  async run() {
    const t = await openTestStore('sqlite');
    try {
      const practice = await t.store.practices.create({ name: 'Maison de santé' });
      await fill(t.store, practice.id);
      const read: number[] = [];
      const computed: number[] = [];
      let slots = 0;
      for (let round = 0; round < 5; round++) {
        let t0 = performance.now();
        for (let p = 0; p < PRACTITIONERS; p++)
          await t.store.resources.list({
            practiceId: practice.id,
            practitionerId: `prat-${p}`,
            kind: 'Appointment',
            from: FROM,
            to: TO,
          });
        read.push(performance.now() - t0);
        t0 = performance.now();
        slots = 0;
        for (let p = 0; p < PRACTITIONERS; p++) {
          const r = await availabilityOf(t.store, practice.id, `prat-${p}`, {
            visitType: 'CONS',
            from: FROM,
            to: TO,
            now: FROM,
          });
          slots += r?.slots.length ?? 0;
        }
        computed.push(performance.now() - t0);
      }
      return [
        {
          name: 'sqlite: free slots for every practitioner over 90 days (p50 of 5)',
          measured: { label: 'availability', value: percentile(computed, 50), unit: 'ms' },
          baseline: { label: 'read the same appointments', value: percentile(read, 50), unit: 'ms' },
          higherIsBetter: false,
          aim: '≤ 2×',
          notes: [`${slots} free slots computed per round`],
        },
      ];
    } finally {
      await t.dispose();
    }
  },
};
export default bench;
