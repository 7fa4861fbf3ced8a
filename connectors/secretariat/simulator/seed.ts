/**
 * Seeds of the simulator. `demo`: a fictitious practice with two practitioners, appointment
 * types with French instructions for agents (consignes), agendas, three days of slots (one
 * urgent-only, some blocked), the fictitious patients of test/fixtures/patients.json, a few
 * appointments and two call messages. `empty`: the practice alone.
 * Every write goes through the platform's own operations, so the seed obeys the contract and
 * appears in the change feed.
 */
import { existsSync, readFileSync } from 'node:fs';

import { DateTime } from 'luxon';

import type { Patient as CanonicalPatient } from '../../../src/model/resources.js';
import { patientFromCanonical } from '../mapping.js';
import type { OperationContext, Platform } from './platform.js';
import type { SimulatorState } from './state.js';

export const SEEDS = ['demo', 'empty'] as const;
export type SeedName = (typeof SEEDS)[number];
export const DEMO_PRACTICE_ID = 'cab-demo';
export const DEMO_AGENTS = ['agent-amelie', 'agent-bruno'] as const;

/** The demo's appointment types (motifs) with the practice's instructions for agents (consignes). */
export const DEMO_APPOINTMENT_TYPES: readonly {
  id: string;
  label: string;
  durationMinutes: number;
  instructions: string;
}[] = [
  {
    id: 'consultation',
    label: 'Consultation',
    durationMinutes: 20,
    instructions:
      "Demander le motif en quelques mots. Pas de renouvellement d'arrêt de travail par téléphone.",
  },
  {
    id: 'premiere-consultation',
    label: 'Première consultation',
    durationMinutes: 30,
    instructions: "Demander la carte Vitale et la mutuelle ; prévenir d'arriver 10 minutes en avance.",
  },
  {
    id: 'urgence-du-jour',
    label: 'Urgence du jour',
    durationMinutes: 15,
    instructions:
      'Douleur thoracique, difficulté à respirer, malaise : orienter immédiatement vers le 15. Sinon proposer un créneau « urgence du jour ».',
  },
  {
    id: 'vaccination',
    label: 'Vaccination',
    durationMinutes: 10,
    instructions: "Rappeler d'apporter le carnet de vaccination et le vaccin prescrit.",
  },
];

/** The fictitious patients; from the sources, or from dist/ where the module sits one level deeper. */
function fixturePatientsFile(): URL {
  const candidates = [
    new URL('../../../test/fixtures/patients.json', import.meta.url),
    new URL('../../../../test/fixtures/patients.json', import.meta.url),
  ];
  const found = candidates.find((u) => existsSync(u));
  if (!found) throw new Error('the demo seed needs test/fixtures/patients.json (the fictitious patients)');
  return found;
}

/** The fictitious patients of test/fixtures/patients.json (canonical FHIR, INS test OID). */
export function fictitiousPatients(): CanonicalPatient[] {
  return (JSON.parse(readFileSync(fixturePatientsFile(), 'utf8')) as { patients: CanonicalPatient[] })
    .patients;
}

function body<T extends { id: string }>(reply: { body?: unknown }): T {
  return reply.body as T;
}

export function applySeed(
  seed: SeedName,
  options: { state: SimulatorState; platform: Platform; practiceId: string; now: number },
): void {
  const { state, platform, practiceId } = options;
  state.addPractice({
    id: practiceId,
    name: 'Cabinet médical des Tilleuls (démonstration)',
    timezone: 'Europe/Paris',
  });
  if (seed === 'empty') return;

  // The seed stands for what the platform held before the practice's integration was connected.
  const practice: OperationContext = {
    practiceId,
    agentId: null,
    ifMatch: undefined,
    ifNoneMatchAny: false,
    origin: 'platform',
  };
  const agent = (agentId: string): OperationContext => ({ ...practice, agentId, origin: 'agent' });

  // Fictitious practitioners; RPPS numbers in the 199… range belong to nobody.
  const helene = body<{ id: string }>(
    platform.createPractitioner(practice, {
      rpps: '19900000011',
      family: 'EXEMPLE',
      given: ['Hélène'],
      title: 'Dr',
      phone: '+33100000001',
      active: true,
    }),
  );
  const karim = body<{ id: string }>(
    platform.createPractitioner(practice, {
      rpps: '19900000022',
      family: 'MODELE',
      given: ['Karim'],
      title: 'Dr',
      phone: null,
      active: true,
    }),
  );

  const forPractitioners: Readonly<Record<string, readonly string[]>> = {
    consultation: [helene.id, karim.id],
    'premiere-consultation': [helene.id, karim.id],
    'urgence-du-jour': [helene.id],
    vaccination: [karim.id],
  };
  const types = DEMO_APPOINTMENT_TYPES.map((t) => ({
    ...t,
    practitionerIds: [...(forPractitioners[t.id] ?? [])],
  }));
  for (const { id, ...t } of types)
    platform.putAppointmentType({ ...practice, ifNoneMatchAny: true }, id, { ...t, active: true });

  const schHelene = body<{ id: string }>(
    platform.createSchedule(practice, {
      practitionerId: helene.id,
      active: true,
      comment: null,
      openingHours: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:30', end: '12:30' },
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '14:00', end: '19:00' },
      ],
      appointmentTypes: [
        { appointmentTypeId: 'consultation', durationMinutes: 20 },
        { appointmentTypeId: 'premiere-consultation', durationMinutes: 30 },
        { appointmentTypeId: 'urgence-du-jour', durationMinutes: 15 },
      ],
    }),
  );
  const schKarim = body<{ id: string }>(
    platform.createSchedule(practice, {
      practitionerId: karim.id,
      active: true,
      comment: 'Pas de consultation le mercredi.',
      openingHours: [{ days: ['mon', 'tue', 'thu', 'fri'], start: '09:00', end: '13:00' }],
      appointmentTypes: [
        { appointmentTypeId: 'consultation', durationMinutes: 30 },
        { appointmentTypeId: 'vaccination', durationMinutes: 10 },
      ],
    }),
  );

  // Three working days from tomorrow (practice time), 09:00-12:00 every 30 minutes.
  const days: DateTime[] = [];
  for (
    let d = DateTime.fromMillis(options.now, { zone: 'Europe/Paris' }).startOf('day').plus({ days: 1 });
    days.length < 3;
    d = d.plus({ days: 1 })
  ) {
    if (d.weekday <= 5) days.push(d);
  }
  const slotIds = new Map<string, string>();
  for (const [dayIndex, day] of days.entries()) {
    for (const [sch, who] of [
      [schHelene.id, 'helene'],
      [schKarim.id, 'karim'],
    ] as const) {
      for (let i = 0; i < 6; i++) {
        const start = day.set({ hour: 9, minute: 0 }).plus({ minutes: 30 * i });
        const status = i === 5 ? 'blocked' : i === 0 && who === 'helene' ? 'urgent-only' : 'free';
        const slot = body<{ id: string }>(
          platform.createSlot(practice, {
            scheduleId: sch,
            start: start.toUTC().toISO({ suppressMilliseconds: true }),
            end: start.plus({ minutes: 30 }).toUTC().toISO({ suppressMilliseconds: true }),
            status,
            comment: status === 'blocked' ? 'Réunion de coordination' : null,
          }),
        );
        slotIds.set(`${who}-${dayIndex}-${i}`, slot.id);
      }
    }
  }

  const fixtures = fictitiousPatients();
  const [jeanne, paul, lucie] = fixtures.map((p) =>
    body<{ id: string }>(platform.createPatient(practice, patientFromCanonical(p))),
  );
  if (!jeanne || !paul || !lucie)
    throw new Error('test/fixtures/patients.json must hold at least three patients');

  const book = (
    who: string,
    practitionerId: string,
    slotKey: string,
    patientId: string,
    appointmentTypeId: string,
    note: string | null,
  ) => {
    const slotId = slotIds.get(slotKey) as string;
    const slot = state.get(practiceId, 'slot', slotId);
    if (!slot) throw new Error(`seed slot ${slotKey} missing`);
    return body<{ id: string }>(
      platform.createAppointment(agent(who), {
        practitionerId,
        patientId,
        slotId,
        appointmentTypeId,
        start: slot.start,
        end: slot.end,
        note,
        bookedBy: who,
      }),
    );
  };
  book('agent-amelie', helene.id, 'helene-0-1', jeanne.id, 'consultation', 'Toux depuis une semaine.');
  book('agent-amelie', karim.id, 'karim-0-2', paul.id, 'vaccination', null);
  const cancelled = book('agent-bruno', helene.id, 'helene-1-3', lucie.id, 'premiere-consultation', null);
  platform.cancelAppointment(agent('agent-bruno'), cancelled.id, {
    reason: 'La patiente a annulé par téléphone.',
  });

  const taken = (minutesAgo: number) => new Date(options.now - minutesAgo * 60_000).toISOString();
  platform.createMessage(agent('agent-bruno'), {
    priority: 'routine',
    callerName: 'Paul DEMONSTRATION',
    callbackNumber: '+33145678901',
    reason: "Renouvellement d'ordonnance",
    text: 'Souhaite le renouvellement de son traitement habituel ; rappeler après 17 h.',
    patientId: paul.id,
    practitionerId: karim.id,
    takenAt: taken(45),
  });
  platform.createMessage(agent('agent-amelie'), {
    priority: 'urgent',
    callerName: 'Jeanne FICTIVE',
    callbackNumber: '+33612345678',
    reason: 'Fièvre',
    text: 'Fièvre à 39,5 °C depuis hier, demande à être vue aujourd’hui.',
    patientId: jeanne.id,
    practitionerId: helene.id,
    takenAt: taken(10),
  });
}
