/**
 * Reminders and recalls (relances, issue 21 point 3): each day, in each practice's own zone,
 * the appointments to remind and the patients due a follow-up are selected by the practice's
 * rules (reminder-selection.ts), handed to the secretariat platform's agents (contract
 * `POST /reminders`), and the outcome the agents report (reached, not reached, rebooked,
 * declined; opt-out) is polled back (design rule 5), counted in the activity report and, where
 * the practice link's connector and profile allow, written back to the practice software.
 *
 * `runDue()` is the whole job as one plain function the scheduler calls every few minutes
 * (features/reminders.ts): a practice's pass runs once its local `sendAt` has come, once a day
 * (`reminder_passes`), and every reminder has a dedupe key unique in the store, so a second
 * run — a restart, another instance, a forced run — hands nothing twice. Hand-offs, outcomes
 * and write-backs that failed are tried again at the next call.
 *
 * Privacy: the store and the platform get canonical/platform ids, visit-type codes and dates;
 * logs carry ids, counts and error codes only. Consent and opt-out are honoured at selection.
 */
import { DateTime } from 'luxon';

import type { Connector, ReminderHandoff, ReminderOutcomeCode } from '../connector/contract.js';
import { isPasserelleError, PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import type { Reminder, ReminderCounts } from '../store/repos/reminders.js';
import type { Link, Practice, StoredResource } from '../store/types.js';
import {
  type AppointmentFacts,
  localDayOf,
  type PatientFacts,
  patientFacts,
  RECALL_CATCH_UP_DAYS,
  recallWindows,
  selectReminders,
  SKIP_REASONS,
  type SkipReason,
  upcomingWindow,
} from './reminder-selection.js';
import { type ReminderSettings, reminderSettingsOf } from './reminder-settings.js';

const LEASE = 'reminders';
/** Patients read per query by the daily pass (ids in one `IN`, or one page of the scan). */
const PATIENT_PAGE = 500;
/** Most reminders one POST carries (the contract's limit). */
export const HANDOFF_BATCH = 500;

export interface ReminderJobDeps {
  readonly store: Store;
  readonly logger: Logger;
  /** The running connector of a link (SyncRuntime.connectorOf). */
  readonly connectorOf: (linkId: string) => Connector | undefined;
  readonly signal?: AbortSignal;
}

export interface PracticePassResult {
  readonly practiceId: string;
  readonly day: string;
  readonly selected: number;
  readonly reminders: number;
  readonly recalls: number;
  readonly skipped: Record<SkipReason, number>;
}

export interface ReminderRunResult {
  readonly passes: PracticePassResult[];
  readonly handed: number;
  readonly outcomes: number;
  readonly writtenBack: number;
}

/** What the API shows of a reminder (ids, codes and dates; names only in the CSV export). */
export interface ReminderView {
  readonly id: string;
  readonly kind: Reminder['kind'];
  readonly patientId: string;
  readonly appointmentId: string | null;
  readonly visitType: string | null;
  readonly dueOn: string;
  readonly appointmentStart: string | null;
  readonly passDay: string;
  /** selected (not yet taken by the platform), handed, or done (an outcome came back). */
  readonly state: 'selected' | 'handed' | 'done';
  readonly handedAt: string | null;
  readonly handError: string | null;
  readonly outcome: Reminder['outcome'];
  readonly outcomeAt: string | null;
  readonly optOut: boolean;
  readonly writtenBackAt: string | null;
  readonly writeBackError: string | null;
}

export function reminderView(r: Reminder): ReminderView {
  return {
    id: r.id,
    kind: r.kind,
    patientId: r.patientId,
    appointmentId: r.appointmentId,
    visitType: r.visitType,
    dueOn: r.dueOn,
    appointmentStart: r.appointmentStart,
    passDay: r.passDay,
    state: r.outcome !== null ? 'done' : r.handedAt !== null ? 'handed' : 'selected',
    handedAt: r.handedAt,
    handError: r.handError,
    outcome: r.outcome,
    outcomeAt: r.outcomeAt,
    optOut: r.optOut,
    writtenBackAt: r.writtenBackAt,
    writeBackError: r.writeBackError,
  };
}

/** French labels of the outcomes, for the practice's staff (write-back text, CSV). */
export const OUTCOME_LABELS: Readonly<Record<ReminderOutcomeCode, string>> = {
  reached: 'patient joint',
  'not-reached': 'patient non joint',
  rebooked: 'rendez-vous reprogrammé',
  declined: 'refusé par le patient',
};

const emptySkips = (): Record<SkipReason, number> =>
  Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;

function appointmentFacts(r: StoredResource): AppointmentFacts | undefined {
  const data = r.data as {
    status?: string;
    start?: string;
    serviceType?: { coding?: { code?: string }[] }[];
  };
  const start = Date.parse(r.startAt ?? data.start ?? '');
  if (Number.isNaN(start)) return undefined;
  return {
    id: r.id,
    patientId: r.patientId,
    status: r.status ?? data.status ?? 'unknown',
    start,
    visitType: data.serviceType?.[0]?.coding?.[0]?.code ?? null,
  };
}

/** The local time `HH:MM` of an instant in a zone. */
const localTime = (ms: number, zone: string): string => DateTime.fromMillis(ms, { zone }).toFormat('HH:mm');
const frenchDate = (day: string): string => DateTime.fromISO(day).toFormat('dd/MM/yyyy');

/** The agent's note: what to do, with the appointment's local date and time; no patient data. */
export function handoffNote(r: Reminder, zone: string): string {
  const type = r.visitType === null ? '' : ` (${r.visitType})`;
  if (r.kind === 'reminder' && r.appointmentStart !== null)
    return `Rappel du rendez-vous du ${frenchDate(r.dueOn)} à ${localTime(Date.parse(r.appointmentStart), zone)}${type} : confirmer la venue du patient, ou proposer un autre créneau.`;
  return `Relance de suivi${type} due le ${frenchDate(r.dueOn)} : proposer un rendez-vous au patient.`;
}

export class ReminderJob {
  constructor(private readonly deps: ReminderJobDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  private settingsOf(p: Practice): ReminderSettings | null {
    const { settings, error } = reminderSettingsOf(p.settings);
    if (error) this.deps.logger.warn('reminder settings unusable', { practiceId: p.id, code: error.code });
    return settings;
  }

  /**
   * The scheduler's call: for every practice with reminders on, its pass of the day once its
   * local send time has come (once), then hand-offs left over, outcomes, write-backs. One
   * instance at a time (store lease `reminders`); another finds it held and returns at once.
   */
  async runDue(): Promise<ReminderRunResult> {
    const r = await this.store.withLease(LEASE, async () => {
      const out = { passes: [] as PracticePassResult[], handed: 0, outcomes: 0, writtenBack: 0 };
      for (const p of await this.store.practices.list()) {
        if (this.deps.signal?.aborted) break;
        const s = this.settingsOf(p);
        if (!s?.enabled) continue;
        try {
          const now = this.store.now();
          const day = localDayOf(now, p.timezone);
          if (localTime(now, p.timezone) >= s.sendAt && (await this.store.reminders.startPass(p.id, day)))
            out.passes.push(await this.pass(p, s, day));
          out.handed += await this.handOff(p);
          out.outcomes += await this.collectOutcomes(p);
          out.writtenBack += await this.writeBack(p, s);
        } catch (e) {
          this.deps.logger.error('reminder run failed for a practice', { practiceId: p.id, err: e });
        }
      }
      return out;
    });
    return r.acquired ? r.result : { passes: [], handed: 0, outcomes: 0, writtenBack: 0 };
  }

  /**
   * A practice's pass of `day` now (API, CLI, tests), whatever its send time and even when the
   * day's pass already ran: what was already selected is not selected again. Then hands off.
   */
  async runPractice(practiceId: string, day?: string): Promise<PracticePassResult & { handed: number }> {
    const p = await this.store.practices.require(practiceId);
    const { settings, error } = reminderSettingsOf(p.settings);
    if (!settings) throw error as PasserelleError;
    const d = day ?? localDayOf(this.store.now(), p.timezone);
    await this.store.reminders.startPass(p.id, d);
    const result = await this.pass(p, settings, d);
    return { ...result, handed: await this.handOff(p) };
  }

  /** Selects and records the day's reminders and recalls (not yet handed). */
  private async pass(p: Practice, s: ReminderSettings, day: string): Promise<PracticePassResult> {
    const { store } = this;
    const now = store.now();
    const zone = p.timezone;
    const facts = (rows: StoredResource[]) =>
      rows.map(appointmentFacts).filter((a): a is AppointmentFacts => a !== undefined);
    const win = upcomingWindow(day, now, zone, s);
    const upcoming = facts(
      await store.resources.list({
        practiceId: p.id,
        kind: 'Appointment',
        from: new Date(win.from).toISOString(),
        to: new Date(win.to).toISOString(),
      }),
    );
    const past: AppointmentFacts[] = [];
    for (const w of recallWindows(day, zone, s))
      past.push(
        ...facts(
          await store.resources.list({
            practiceId: p.id,
            kind: 'Appointment',
            from: new Date(w.from).toISOString(),
            to: new Date(w.to).toISOString(),
          }),
        ),
      );
    // The patients the pass needs, not the practice's file: those the window's appointments name
    // (read by id, a few queries), and — recall dates from the practice software — those whose
    // recall falls due in the catch-up window.
    const earliest = DateTime.fromISO(day).minus({ days: RECALL_CATCH_UP_DAYS }).toISODate() as string;
    const dueNow = (pf: PatientFacts) =>
      pf.recallDue !== null && pf.recallDue <= day && pf.recallDue >= earliest;
    const patients = new Map<string, PatientFacts>();
    const named = [...upcoming, ...past].map((a) => a.patientId).filter((x): x is string => x !== null);
    for (const r of await store.resources.getMany(named))
      if (r.practiceId === p.id && r.kind === 'Patient')
        patients.set(r.id, patientFacts(r as Parameters<typeof patientFacts>[0]));
    if (s.recallsFromPracticeSoftware) {
      // The recall date is inside the sealed record: no index finds the patients due, so the
      // practice's patients are read a page at a time and only those due are kept.
      for (let after: string | null = null; ;) {
        const page = await store.resources.list({
          practiceId: p.id,
          kind: 'Patient',
          page: { after, size: PATIENT_PAGE },
        });
        for (const r of page) {
          const pf = patientFacts(r as Parameters<typeof patientFacts>[0]);
          if (dueNow(pf)) patients.set(r.id, pf);
        }
        if (page.length < PATIENT_PAGE) break;
        after = (page.at(-1) as StoredResource).id;
      }
    }
    // Whether recall candidates came back or booked: their own appointments, a few queries.
    const candidates = new Set<string>(past.map((a) => a.patientId).filter((x): x is string => x !== null));
    for (const pf of patients.values()) if (dueNow(pf)) candidates.add(pf.id);
    const visitsOf = new Map<string, AppointmentFacts[]>([...candidates].map((id) => [id, []]));
    const ids = [...candidates];
    for (let i = 0; i < ids.length; i += PATIENT_PAGE)
      for (const a of facts(
        await store.resources.list({
          practiceId: p.id,
          kind: 'Appointment',
          patientIds: ids.slice(i, i + PATIENT_PAGE),
        }),
      ))
        visitsOf.get(a.patientId as string)?.push(a);
    const keys = [
      ...upcoming.map((a) => `appointment:${a.id}`),
      ...past.map((a) => `recall-rule:${a.id}`),
      ...[...patients.values()]
        .filter((pf) => pf.recallDue !== null)
        .map((pf) => `recall-date:${pf.id}:${pf.recallDue}`),
    ];
    const { selected, skipped } = selectReminders({
      day,
      now,
      zone,
      settings: s,
      upcoming,
      past,
      visitsOf,
      patients,
      optedOut: await store.reminders.optedOut(p.id),
      handed: await store.reminders.existingKeys(p.id, keys),
    });
    let reminders = 0;
    let recalls = 0;
    for (const r of selected) {
      const added = await store.reminders.add({ ...r, practiceId: p.id, passDay: day });
      if (!added) {
        skipped['already-handed']++;
        continue;
      }
      if (r.kind === 'reminder') reminders++;
      else recalls++;
    }
    const counts: ReminderCounts = { reminders, recalls, ...skipped };
    await store.reminders.finishPass(p.id, day, counts);
    this.deps.logger.info('reminder pass', { practiceId: p.id, day, ...counts });
    return {
      practiceId: p.id,
      day,
      selected: reminders + recalls,
      reminders,
      recalls,
      skipped: { ...emptySkips(), ...skipped },
    };
  }

  /** The practice's running link whose connector has `method`. */
  private linkWith(
    links: Link[],
    role: Link['role'],
    method: keyof Connector,
  ): { link: Link; connector: Connector } | undefined {
    for (const link of links) {
      if (link.role !== role) continue;
      const connector = this.deps.connectorOf(link.id);
      if (connector?.[method] !== undefined) return { link, connector };
    }
    return undefined;
  }

  /** Hands what is selected and not yet taken; returns how many the platform took. */
  private async handOff(p: Practice): Promise<number> {
    const { store } = this;
    const rows = await store.reminders.unhanded(p.id, HANDOFF_BATCH);
    if (rows.length === 0) return 0;
    const target = this.linkWith(
      await store.links.list({ practiceId: p.id, enabled: true }),
      'secretariat',
      'handReminders',
    );
    if (!target) {
      for (const r of rows) await store.reminders.handFailed(r.id, 'no-secretariat-link');
      this.deps.logger.warn('reminders not handed: no running secretariat link takes them', {
        practiceId: p.id,
        count: rows.length,
        code: 'ERR_REMINDER_HANDOFF_FAILED',
      });
      return 0;
    }
    const items: ReminderHandoff[] = [];
    for (const r of rows) {
      const patientId = (await store.identityMap.findExternal(target.link.id, 'Patient', r.patientId))[0];
      const appointmentId =
        r.appointmentId === null
          ? null
          : ((await store.identityMap.findExternal(target.link.id, 'Appointment', r.appointmentId))[0] ??
            null);
      if (patientId === undefined || (r.appointmentId !== null && appointmentId === null)) {
        // Not on the platform yet (its push may be in the outbox): tried again next time.
        await store.reminders.handFailed(r.id, 'not-on-platform');
        continue;
      }
      items.push({
        reference: r.id,
        kind: r.kind,
        patientId,
        appointmentId,
        visitType: r.visitType,
        dueOn: r.dueOn,
        appointmentStart: r.appointmentStart,
        note: handoffNote(r, p.timezone),
      });
    }
    if (items.length === 0) return 0;
    try {
      const taken = await (target.connector.handReminders as NonNullable<Connector['handReminders']>)(items);
      const now = store.now();
      let n = 0;
      for (const t of taken) if (await store.reminders.markHanded(t.reference, t.id, now)) n++;
      this.deps.logger.info('reminders handed', { practiceId: p.id, linkId: target.link.id, count: n });
      return n;
    } catch (e) {
      const code = isPasserelleError(e) ? e.code : 'ERR_REMINDER_HANDOFF_FAILED';
      for (const i of items) await store.reminders.handFailed(i.reference, code);
      this.deps.logger.warn('reminders not handed', { practiceId: p.id, linkId: target.link.id, code });
      return 0;
    }
  }

  /** Polls the outcomes of what is handed and waiting; records each once; returns how many. */
  private async collectOutcomes(p: Practice): Promise<number> {
    const { store } = this;
    const waiting = await store.reminders.awaitingOutcome(p.id, 10_000);
    if (waiting.length === 0) return 0;
    const target = this.linkWith(
      await store.links.list({ practiceId: p.id, enabled: true }),
      'secretariat',
      'reminderOutcomes',
    );
    if (!target) return 0;
    const byId = new Map(waiting.map((r) => [r.id, r]));
    // Reports can only be newer than the oldest hand-off still waiting (minus clock skew).
    const since = Math.min(...waiting.map((r) => Date.parse(r.handedAt as string))) - 5 * 60_000;
    let reports;
    try {
      reports = await (target.connector.reminderOutcomes as NonNullable<Connector['reminderOutcomes']>)(
        new Date(since).toISOString(),
      );
    } catch (e) {
      this.deps.logger.warn('reminder outcomes not read', {
        practiceId: p.id,
        linkId: target.link.id,
        code: isPasserelleError(e) ? e.code : 'ERR_SECRETARIAT_HTTP',
      });
      return 0;
    }
    let n = 0;
    for (const rep of reports) {
      const r = byId.get(rep.reference);
      if (!r) continue;
      const at = Number.isNaN(Date.parse(rep.at)) ? store.now() : Date.parse(rep.at);
      const recorded = await store.transaction(async (tx) => {
        if (!(await tx.reminders.setOutcome(r.id, rep.outcome, at, rep.optOut))) return false;
        if (rep.optOut) await tx.reminders.optOut(p.id, r.patientId, 'secretariat');
        await tx.audit.append({
          actor: `link:${target.link.id}`,
          action: rep.optOut ? 'reminder.outcome.opt-out' : 'reminder.outcome',
          resourceType: 'Patient',
          resourceId: r.patientId,
          practiceId: p.id,
          outcome: 'success',
          via: 'scheduler',
          details: { reminderId: r.id, kind: r.kind, outcome: rep.outcome, optOut: rep.optOut },
        });
        return true;
      });
      if (recorded) n++;
    }
    if (n > 0) this.deps.logger.info('reminder outcomes recorded', { practiceId: p.id, count: n });
    return n;
  }

  /** Writes outcomes back to the practice software where its link can; returns how many. */
  private async writeBack(p: Practice, s: ReminderSettings): Promise<number> {
    if (!s.writeBack) return 0;
    const { store } = this;
    const rows = await store.reminders.toWriteBack(p.id, 200);
    if (rows.length === 0) return 0;
    const target = this.linkWith(
      await store.links.list({ practiceId: p.id, enabled: true }),
      'practice',
      'recordReminderOutcome',
    );
    if (!target) return 0;
    let n = 0;
    for (const r of rows) {
      if (this.deps.signal?.aborted) break;
      const patientId = (await store.identityMap.findExternal(target.link.id, 'Patient', r.patientId))[0];
      const appointmentId =
        r.appointmentId === null
          ? null
          : ((await store.identityMap.findExternal(target.link.id, 'Appointment', r.appointmentId))[0] ??
            null);
      if (patientId === undefined) {
        await store.reminders.writeBackFailed(r.id, 'final:not-in-practice-software');
        continue;
      }
      const outcome = r.outcome as ReminderOutcomeCode;
      const what =
        r.kind === 'reminder' && r.appointmentStart !== null
          ? `Rappel du rendez-vous du ${frenchDate(r.dueOn)} à ${localTime(Date.parse(r.appointmentStart), p.timezone)}`
          : `Relance de suivi du ${frenchDate(r.dueOn)}`;
      try {
        await (target.connector.recordReminderOutcome as NonNullable<Connector['recordReminderOutcome']>)({
          reference: r.id,
          kind: r.kind,
          patientId,
          appointmentId,
          outcome,
          optOut: r.optOut,
          at: r.outcomeAt as string,
          text: `${what} par le secrétariat : ${OUTCOME_LABELS[outcome]}.${r.optOut ? ' Le patient ne souhaite plus être relancé.' : ''}`,
        });
        await store.reminders.markWrittenBack(r.id, store.now());
        n++;
      } catch (e) {
        const err =
          e instanceof PasserelleError
            ? e
            : new PasserelleError('ERR_REMINDER_WRITEBACK_FAILED', 'the write-back failed', { cause: e });
        await store.reminders.writeBackFailed(r.id, err.retryable ? err.code : `final:${err.code}`);
        this.deps.logger.warn('reminder outcome not written back', {
          practiceId: p.id,
          linkId: target.link.id,
          reminderId: r.id,
          code: err.code,
        });
      }
    }
    return n;
  }

  async list(
    practiceId: string,
    filter: { passDay?: string; since?: number; until?: number } = {},
  ): Promise<Reminder[]> {
    await this.store.practices.require(practiceId);
    return this.store.reminders.list({ practiceId, ...filter });
  }

  /** Records a patient's opt-out (practice staff, from the console or API); audited. */
  async setOptOut(
    practiceId: string,
    patientId: string,
    optedOut: boolean,
    who: { actor: string; role?: string | null; requestId?: string | null },
  ): Promise<{ optedOut: boolean; changed: boolean }> {
    const patient = await this.store.resources.get(patientId);
    if (!patient || patient.kind !== 'Patient' || patient.practiceId !== practiceId)
      throw new PasserelleError('ERR_NOT_FOUND', `patient ${patientId} not found`);
    return this.store.transaction(async (tx) => {
      const changed = optedOut
        ? await tx.reminders.optOut(practiceId, patientId, 'api')
        : await tx.reminders.optIn(practiceId, patientId);
      await tx.audit.append({
        actor: who.actor,
        role: who.role ?? null,
        action: optedOut ? 'reminder.opt-out' : 'reminder.opt-in',
        resourceType: 'Patient',
        resourceId: patientId,
        practiceId,
        outcome: 'success',
        requestId: who.requestId ?? null,
        via: 'api',
        details: { changed },
      });
      return { optedOut, changed };
    });
  }
}

/** The reminder figures of a practice over [since, until): reminders selected then, their outcomes, the passes' skips. */
export interface ReminderStats {
  readonly reminders: number;
  readonly recalls: number;
  readonly handed: number;
  readonly reached: number;
  readonly notReached: number;
  readonly rebooked: number;
  readonly declined: number;
  readonly awaitingOutcome: number;
  readonly optOuts: number;
  readonly writtenBack: number;
  readonly skippedNoConsent: number;
  readonly skippedOptedOut: number;
  readonly skippedInactive: number;
}

export async function reminderStats(
  store: Pick<Store, 'reminders'>,
  practice: Pick<Practice, 'id' | 'timezone'>,
  since: number,
  until: number,
): Promise<ReminderStats> {
  const rows = await store.reminders.list({ practiceId: practice.id, since, until, limit: 100_000 });
  const passes = await store.reminders.passes(
    practice.id,
    localDayOf(since, practice.timezone),
    localDayOf(until, practice.timezone),
  );
  const sum = (k: string) => passes.reduce((n, p) => n + (p.counts[k] ?? 0), 0);
  const count = (f: (r: Reminder) => boolean) => rows.filter(f).length;
  return {
    reminders: count((r) => r.kind === 'reminder'),
    recalls: count((r) => r.kind === 'recall'),
    handed: count((r) => r.handedAt !== null),
    reached: count((r) => r.outcome === 'reached'),
    notReached: count((r) => r.outcome === 'not-reached'),
    rebooked: count((r) => r.outcome === 'rebooked'),
    declined: count((r) => r.outcome === 'declined'),
    awaitingOutcome: count((r) => r.handedAt !== null && r.outcome === null),
    optOuts: count((r) => r.optOut),
    writtenBack: count((r) => r.writtenBackAt !== null),
    skippedNoConsent: sum('no-consent'),
    skippedOptedOut: sum('opted-out'),
    skippedInactive: sum('patient-inactive'),
  };
}
