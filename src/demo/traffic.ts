/**
 * The demo's traffic: secretariat agents (book, move, cancel, call messages, some urgent) on the
 * secretariat simulators' HTTP API, and practice staff in their own software (blocked afternoons,
 * patient updates, bookings) — FHIR REST on the FHIR peer, HL7 v2 over MLLP from the HL7
 * simulator. One event at a time, a few a minute (every 3 s during the first minute, so data
 * flows at once). Every choice is made from what the peers hold now, so a restart carries on.
 */
import type {
  Patient as FhirPatient,
  Practitioner as FhirPractitioner,
  Schedule as FhirSchedule,
  Slot as FhirSlot,
} from '@medplum/fhirtypes';
import { DateTime } from 'luxon';

import type { FhirPeer } from '../../connectors/fhir/peer/index.js';
import type { Hl7Simulator, MllpTarget } from '../../connectors/hl7v2/simulator/index.js';
import type { Appointment, Patient, Practitioner, Slot } from '../../connectors/secretariat/contract.js';
import {
  DEMO_AGENTS,
  type SecretariatSimulator,
  type SimulatorAgent,
} from '../../connectors/secretariat/simulator/index.js';
import { patientInitials, practitionerName } from '../ical/event-content.js';
import type { Logger } from '../log/logger.js';
import type {
  Patient as CanonicalPatient,
  Practitioner as CanonicalPractitioner,
} from '../model/resources.js';
import {
  adtMessage,
  DEMO_APPOINTMENT_TYPES,
  DEMO_PRACTICES,
  DEMO_ZONE,
  type DemoPracticeKey,
  HL7_OPENING,
  HL7_PRACTITIONERS,
  hl7Patients,
  nextWorkingDays,
  s12Message,
  s23Message,
} from './demo-data.js';

export interface TrafficOptions {
  readonly secretariat: Readonly<Record<DemoPracticeKey, SecretariatSimulator>>;
  readonly fhirPeer: FhirPeer;
  readonly hl7: Hl7Simulator;
  /** passerelle's MLLP listener, where the HL7 practice's software sends. */
  readonly mllp: MllpTarget;
  readonly random: () => number;
  /** One short French line per event, for the console. */
  readonly onEvent: (line: string) => void;
  readonly log: Logger;
  readonly now?: () => number;
  /** Pause between events during the first minute, then after it (ms). */
  readonly pace?: { readonly firstMinuteMs: number; readonly thenMs: number };
}

type Action = { readonly name: string; readonly weight: number; readonly run: () => Promise<string | null> };

const fr = (iso: string) =>
  DateTime.fromISO(iso, { zone: DEMO_ZONE }).setLocale('fr').toFormat("ccc dd/LL 'à' HH:mm");
const drName = (p: Practitioner | undefined) => (p ? `Dr ${p.family}` : 'un praticien');

export class DemoTraffic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private startedAt = 0;
  private seq = 0;
  private retries = 0;
  private readonly now: () => number;
  private readonly actions: Action[];
  /** The first events of each run, in this order (docs/demo.md), so that every kind of flow shows at once. */
  private readonly opening = [
    'fhir:agent.book',
    'hl7:agent.book',
    'hl7:agent.message',
    'fhir:agent.message',
    'hl7:staff.book',
    'fhir:staff.block',
    'fhir:agent.move',
    'hl7:staff.patient',
    'fhir:staff.patient',
    'hl7:agent.cancel',
  ];

  constructor(private readonly o: TrafficOptions) {
    this.now = o.now ?? Date.now;
    this.actions = [
      { name: 'fhir:agent.book', weight: 5, run: () => this.agentBook('fhir') },
      { name: 'hl7:agent.book', weight: 5, run: () => this.agentBook('hl7') },
      { name: 'fhir:agent.move', weight: 2, run: () => this.agentMove('fhir') },
      { name: 'hl7:agent.move', weight: 2, run: () => this.agentMove('hl7') },
      { name: 'fhir:agent.cancel', weight: 1.5, run: () => this.agentCancel('fhir') },
      { name: 'hl7:agent.cancel', weight: 1.5, run: () => this.agentCancel('hl7') },
      { name: 'fhir:agent.message', weight: 2, run: () => this.agentMessage('fhir') },
      { name: 'hl7:agent.message', weight: 2, run: () => this.agentMessage('hl7') },
      { name: 'fhir:staff.block', weight: 1, run: () => this.fhirStaffBlock() },
      { name: 'hl7:staff.block', weight: 1, run: () => this.hl7StaffBlock() },
      { name: 'fhir:staff.patient', weight: 1, run: () => this.fhirStaffPatient() },
      { name: 'hl7:staff.patient', weight: 1, run: () => this.hl7StaffPatient() },
      { name: 'hl7:staff.book', weight: 1.5, run: () => this.hl7StaffBook() },
    ];
  }

  start(): void {
    this.startedAt = this.now();
    this.schedule(500);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        const pace = this.o.pace ?? { firstMinuteMs: 3000, thenMs: 15_000 };
        const base = this.now() - this.startedAt < 60_000 ? pace.firstMinuteMs : pace.thenMs;
        this.schedule(Math.round(base * (0.7 + 0.6 * this.o.random())));
      });
    }, ms);
  }

  /** Plays one event; a refused or impossible action is logged and the next tick tries another. */
  async tick(): Promise<void> {
    const scripted = this.opening.length > 0;
    const action = this.pick();
    try {
      const line = await action.run();
      // An opening event with nothing to act on yet (slots not synced) is played again next tick.
      if (line === null && scripted && this.retries++ < 10) this.opening.unshift(action.name);
      if (line !== null) this.o.onEvent(line);
      this.o.log.info('demo event', { action: action.name, done: line !== null });
    } catch (e) {
      this.o.log.warn('demo event failed', { action: action.name, err: e });
    }
  }

  private pick(): Action {
    const scripted = this.actions.find((a) => a.name === this.opening[0]);
    this.opening.shift();
    if (scripted) return scripted;
    const total = this.actions.reduce((n, a) => n + a.weight, 0);
    let r = this.o.random() * total;
    for (const a of this.actions) {
      r -= a.weight;
      if (r < 0) return a;
    }
    return this.actions[0] as Action;
  }

  private choose<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.o.random() * items.length)];
  }

  private agent(key: DemoPracticeKey): SimulatorAgent {
    return this.o.secretariat[key].agent(this.choose(DEMO_AGENTS) as string);
  }

  private async list<T>(agent: SimulatorAgent, path: string): Promise<T[]> {
    return (await agent.get<{ items: T[] }>(path)).items;
  }

  private tag(key: DemoPracticeKey): string {
    return `[${DEMO_PRACTICES[key].label}]`;
  }

  private soonest(): string {
    // Never in the past nor within the next hour: the agent books for later.
    return new Date(this.now() + 3_600_000).toISOString();
  }

  // ——— agents ———

  private async agentBook(key: DemoPracticeKey): Promise<string | null> {
    const agent = this.agent(key);
    const patient = this.choose(await this.list<Patient>(agent, '/patients'));
    if (!patient) return null;
    if (key === 'fhir') {
      const slots = (
        await this.list<Slot>(agent, `/slots?from=${encodeURIComponent(this.soonest())}`)
      ).filter((s) => s.start >= this.soonest());
      // One booking in five is an « urgence du jour » in an urgent-only slot.
      const urgent = this.o.random() < 0.2;
      const slot =
        this.choose(slots.filter((s) => s.status === (urgent ? 'urgent-only' : 'free'))) ??
        this.choose(slots.filter((s) => s.status === 'free'));
      if (!slot) return null;
      const type =
        slot.status === 'urgent-only'
          ? 'urgence-du-jour'
          : (this.choose(['consultation', 'premiere-consultation']) as string);
      const apt = await agent.book({
        slotId: slot.id,
        patientId: patient.id,
        appointmentTypeId: type,
        note: null,
      });
      const practitioner = await agent.get<Practitioner>(`/practitioners/${apt.practitionerId}`);
      return `${this.tag(key)} ${agent.agentId} réserve un RDV (${labelOf(type)}) avec ${drName(practitioner)} le ${fr(apt.start)}`;
    }
    const practitioner = this.choose(await this.list<Practitioner>(agent, '/practitioners'));
    if (!practitioner) return null;
    const start = await this.freeTime(key, practitioner.id);
    if (!start) return null;
    const apt = await agent.book({
      practitionerId: practitioner.id,
      patientId: patient.id,
      start,
      end: plusMinutes(start, HL7_OPENING.stepMinutes),
      appointmentTypeId: 'consultation',
      note: null,
    });
    return `${this.tag(key)} ${agent.agentId} réserve un RDV avec ${drName(practitioner)} le ${fr(apt.start)}`;
  }

  private async futureBookings(agent: SimulatorAgent, byAgent: boolean): Promise<Appointment[]> {
    return (
      await this.list<Appointment>(agent, `/appointments?from=${encodeURIComponent(this.soonest())}`)
    ).filter(
      (a) =>
        a.status === 'booked' &&
        a.start >= this.soonest() &&
        (!byAgent || (a.bookedBy ?? '').startsWith('agent-')),
    );
  }

  private async agentMove(key: DemoPracticeKey): Promise<string | null> {
    const agent = this.agent(key);
    const apt = this.choose(await this.futureBookings(agent, true));
    if (!apt) return null;
    let moved: Appointment;
    if (key === 'fhir') {
      const slots = await this.list<Slot>(
        agent,
        `/slots?from=${encodeURIComponent(this.soonest())}&practitionerId=${apt.practitionerId}`,
      );
      const slot = this.choose(slots.filter((s) => s.status === 'free' && s.start >= this.soonest()));
      if (!slot) return null;
      moved = await agent.move(apt.id, { slotId: slot.id });
    } else {
      const start = await this.freeTime(key, apt.practitionerId);
      if (!start) return null;
      moved = await agent.move(apt.id, { start, end: plusMinutes(start, HL7_OPENING.stepMinutes) });
    }
    return `${this.tag(key)} ${agent.agentId} déplace un RDV du ${fr(apt.start)} au ${fr(moved.start)}`;
  }

  private async agentCancel(key: DemoPracticeKey): Promise<string | null> {
    const agent = this.agent(key);
    const apt = this.choose(await this.futureBookings(agent, false));
    if (!apt) return null;
    await agent.cancel(apt.id, 'Le patient a annulé par téléphone.');
    return `${this.tag(key)} ${agent.agentId} annule le RDV du ${fr(apt.start)} (le patient a appelé)`;
  }

  private async agentMessage(key: DemoPracticeKey): Promise<string | null> {
    const agent = this.agent(key);
    const patient = this.choose(await this.list<Patient>(agent, '/patients'));
    const practitioner = this.choose(await this.list<Practitioner>(agent, '/practitioners'));
    const urgent = this.o.random() < 0.3;
    const [reason, text] = urgent
      ? ['Fièvre élevée', 'Fièvre à 39,5 °C depuis hier soir, demande à être rappelé(e) rapidement.']
      : (this.choose([
          [
            "Renouvellement d'ordonnance",
            'Souhaite le renouvellement de son traitement habituel ; rappeler après 17 h.',
          ],
          ['Résultats', "Demande si les résultats d'analyse sont arrivés."],
          ['Question administrative', 'Demande une attestation de présence pour son employeur.'],
        ]) as [string, string]);
    const caller = patient
      ? `${patient.identity.given[0] ?? ''} ${patient.identity.family}`
      : 'Appelant inconnu';
    await agent.leaveMessage({
      priority: urgent ? 'urgent' : 'routine',
      callerName: caller,
      callbackNumber: '+33100000099',
      reason,
      text,
      patientId: patient?.id ?? null,
      practitionerId: practitioner?.id ?? null,
      takenAt: new Date(this.now()).toISOString(),
    });
    return `${this.tag(key)} ${agent.agentId} laisse un message ${urgent ? 'URGENT' : 'de routine'} pour ${drName(practitioner)} (« ${reason} »)`;
  }

  /** A free 20-minute start in the HL7 practice's opening hours, as the secretariat sees the agenda. */
  private async freeTime(key: DemoPracticeKey, practitionerId: string): Promise<string | undefined> {
    const agent = this.agent(key);
    const q = `from=${encodeURIComponent(this.soonest())}&practitionerId=${practitionerId}`;
    const busy = [
      ...(await this.list<Appointment>(agent, `/appointments?${q}`)).filter(
        (a) => a.status !== 'cancelled' && a.status !== 'refused',
      ),
      ...(await this.list<Slot>(agent, `/slots?${q}`)).filter((s) => s.status !== 'free'),
    ];
    const candidates: string[] = [];
    for (const day of nextWorkingDays(new Date(this.now()), 5)) {
      for (
        let m = HL7_OPENING.startHour * 60;
        m + HL7_OPENING.stepMinutes <= HL7_OPENING.endHour * 60;
        m += HL7_OPENING.stepMinutes
      ) {
        const start = day.plus({ minutes: m }).toUTC().toISO({ suppressMilliseconds: true }) as string;
        const end = plusMinutes(start, HL7_OPENING.stepMinutes);
        if (!busy.some((b) => Date.parse(b.start) < Date.parse(end) && Date.parse(b.end) > Date.parse(start)))
          candidates.push(start);
      }
    }
    return this.choose(candidates);
  }

  // ——— practice staff, FHIR software ———

  private async fhir<T>(method: string, path: string, body?: unknown, ifMatch?: string): Promise<T> {
    const res = await fetch(`${this.o.fhirPeer.url}/${path}`, {
      method,
      headers: {
        accept: 'application/fhir+json',
        ...(body !== undefined && { 'content-type': 'application/fhir+json' }),
        ...(ifMatch && { 'if-match': ifMatch }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`FHIR peer answered ${res.status} to ${method} ${path.split('?')[0]}`);
    return (await res.json()) as T;
  }

  private async fhirStaffBlock(): Promise<string | null> {
    const schedule = this.choose(['agenda-1', 'agenda-2']) as string;
    const blocked = await this.fhir<{ entry?: { resource: FhirSlot }[] }>(
      'GET',
      `Slot?schedule=Schedule/${schedule}&status=busy-unavailable&_count=100`,
    );
    const taken = new Set((blocked.entry ?? []).map((e) => e.resource.start?.slice(0, 10)));
    const day = nextWorkingDays(new Date(this.now()), 5).find(
      (d) => !taken.has(d.set({ hour: 14 }).toUTC().toISODate() ?? ''),
    );
    if (!day) return null;
    const start = day.set({ hour: 14 }).toUTC().toISO({ suppressMilliseconds: true }) as string;
    await this.fhir('POST', 'Slot', {
      resourceType: 'Slot',
      schedule: { reference: `Schedule/${schedule}` },
      status: 'busy-unavailable',
      start,
      end: plusMinutes(start, 240),
      comment: 'Après-midi bloqué : réunion de pôle',
    });
    const owner = await this.agendaOwner(schedule);
    return `${this.tag('fhir')} le secrétariat du cabinet bloque l'après-midi du ${fr(start).replace(/ à .*/, '')} de ${owner} dans son logiciel`;
  }

  /** « Dr Bruno PEDIATRE » for a FHIR Schedule id: the agenda's practitioner, as staff name it. */
  private async agendaOwner(schedule: string): Promise<string> {
    const agenda = await this.fhir<FhirSchedule>('GET', `Schedule/${schedule}`);
    const ref = agenda.actor?.find((a) => a.reference?.startsWith('Practitioner/'))?.reference;
    if (!ref) return 'un agenda du cabinet';
    return (
      practitionerName((await this.fhir<FhirPractitioner>('GET', ref)) as unknown as CanonicalPractitioner) ??
      'un praticien'
    );
  }

  private async fhirStaffPatient(): Promise<string | null> {
    const bundle = await this.fhir<{ entry?: { resource: FhirPatient }[] }>('GET', 'Patient?_count=50');
    const patient = this.choose((bundle.entry ?? []).map((e) => e.resource));
    if (!patient?.id) return null;
    const phone = `+336${String(Math.floor(this.o.random() * 1e8)).padStart(8, '0')}`;
    const telecom = [
      ...(patient.telecom ?? []).filter((t) => t.system !== 'phone'),
      { system: 'phone' as const, value: phone, use: 'mobile' as const },
    ];
    await this.fhir(
      'PUT',
      `Patient/${patient.id}`,
      { ...patient, telecom },
      patient.meta?.versionId ? `W/"${patient.meta.versionId}"` : undefined,
    );
    return `${this.tag('fhir')} le cabinet met à jour le téléphone d'un patient${withInitials(patient)} dans son logiciel`;
  }

  // ——— practice staff, HL7 v2 software ———

  private async sendHl7(raw: Buffer): Promise<string> {
    const [sent] = await this.o.hl7.send(this.o.mllp, [raw]);
    return sent?.result ?? 'sans réponse';
  }

  private controlId(what: string): string {
    return `DEMO-${what}-${this.now().toString(36).toUpperCase()}-${++this.seq}`;
  }

  /** The HL7 practitioner and its id on the secretariat (known once passerelle has sent it). */
  private async hl7Practitioner(): Promise<{
    hl7: (typeof HL7_PRACTITIONERS)[number];
    platformId: string | undefined;
  }> {
    const hl7 = this.choose(HL7_PRACTITIONERS) as (typeof HL7_PRACTITIONERS)[number];
    const known = await this.list<Practitioner>(this.agent('hl7'), '/practitioners');
    return { hl7, platformId: known.find((p) => p.rpps === hl7.rpps)?.id };
  }

  private async hl7StaffBook(): Promise<string | null> {
    const { hl7, platformId } = await this.hl7Practitioner();
    if (!platformId) return null;
    const start = await this.freeTime('hl7', platformId);
    const patient = this.choose(hl7Patients());
    if (!start || !patient) return null;
    const type = DEMO_APPOINTMENT_TYPES[0] as { id: string; label: string };
    const appointmentId = `RDV-${this.now().toString(36).toUpperCase()}`;
    const at = new Date(this.now()).toISOString();
    const ack = await this.sendHl7(
      s12Message(this.controlId('S12'), at, {
        appointmentId,
        practitioner: hl7,
        patient,
        appointmentType: type,
        start,
        minutes: HL7_OPENING.stepMinutes,
      }),
    );
    return `${this.tag('hl7')} l'accueil du cabinet prend un RDV avec Dr ${hl7.family} le ${fr(start)} (SIU^S12 → ${ack})`;
  }

  private async hl7StaffBlock(): Promise<string | null> {
    const { hl7, platformId } = await this.hl7Practitioner();
    if (!platformId) return null;
    const agent = this.agent('hl7');
    const q = `from=${encodeURIComponent(this.soonest())}&practitionerId=${platformId}`;
    const busy = [
      ...(await this.list<Appointment>(agent, `/appointments?${q}`)).filter((a) => a.status === 'booked'),
      ...(await this.list<Slot>(agent, `/slots?${q}`)),
    ];
    const afternoon = (d: DateTime) =>
      [d.set({ hour: HL7_OPENING.startHour }), d.set({ hour: HL7_OPENING.endHour })] as const;
    // A free afternoon only: the practice does not block over its own patients' appointments.
    const day = nextWorkingDays(new Date(this.now()), 5).find((d) => {
      const [from, to] = afternoon(d);
      return !busy.some((b) => Date.parse(b.start) < to.toMillis() && Date.parse(b.end) > from.toMillis());
    });
    if (!day) return null;
    const start = afternoon(day)[0].toISO() as string;
    const minutes = (HL7_OPENING.endHour - HL7_OPENING.startHour) * 60;
    const ack = await this.sendHl7(
      s23Message(
        this.controlId('S23'),
        new Date(this.now()).toISOString(),
        `PLG-${this.now().toString(36).toUpperCase()}`,
        hl7,
        start,
        minutes,
        'réunion',
      ),
    );
    return `${this.tag('hl7')} le cabinet bloque l'après-midi du ${fr(start).replace(/ à .*/, '')} pour Dr ${hl7.family} (SIU^S23 → ${ack})`;
  }

  private async hl7StaffPatient(): Promise<string | null> {
    const patient = this.choose(hl7Patients());
    if (!patient) return null;
    const phone = `+336${String(Math.floor(this.o.random() * 1e8)).padStart(8, '0')}`;
    const ack = await this.sendHl7(
      adtMessage('A31', this.controlId('A31'), new Date(this.now()).toISOString(), patient, phone),
    );
    return `${this.tag('hl7')} le cabinet met à jour le téléphone d'un patient${withInitials(patient)} (ADT^A31 → ${ack})`;
  }
}

function plusMinutes(iso: string, minutes: number): string {
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString().replace('.000Z', 'Z');
}

/** « (J. F.) »: a patient as the console shows them, by initials only; nothing without a name. */
export function withInitials(patient: CanonicalPatient | FhirPatient | undefined): string {
  const initials = patientInitials(patient as CanonicalPatient | undefined);
  return initials ? ` (${initials})` : '';
}

function labelOf(typeId: string): string {
  return DEMO_APPOINTMENT_TYPES.find((t) => t.id === typeId)?.label ?? typeId;
}
