/**
 * The simulator's own state: practices, their resources, the change feed (one monotonic
 * sequence), stored idempotent answers and counters. Kept in memory and written to a JSON file
 * after every change (temp file + rename, so a crash leaves the old or the new state, never
 * half of one), so a restarted simulator carries on where it stopped.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import type {
  CallbackRequestBody,
  Change,
  ChangeOrigin,
  ConsignesBody,
  CoverageBody,
  PlatformResource,
  ReminderBody,
  ResourceOfType,
  ResourceType,
  SlotPublicationBody,
  SlotStatus,
} from '../contract.js';

export interface PracticeRecord {
  readonly id: string;
  readonly name: string;
  readonly timezone: string;
}

/** A stored answer for one Idempotency-Key (draft-ietf-httpapi-idempotency-key-header §2.6). */
export interface StoredAnswer {
  readonly fingerprint: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
  /** How many times the stored answer was given again (a retried write applied once). */
  replays?: number;
}

export interface SimulatorCounters {
  requests: number;
  /** Writes answered from the idempotency store instead of being applied again. */
  idempotentReplays: number;
  faults429: number;
  faults500: number;
  webhooksDelivered: number;
  webhooksDropped: number;
  webhooksDuplicated: number;
  webhooksFailed: number;
}

export interface ChangeRecord extends Change {
  readonly practiceId: string;
}

interface StateFile {
  readonly format: 1;
  seq: number;
  idCounter: number;
  practices: Record<string, PracticeRecord>;
  resources: Record<string, Partial<Record<ResourceType, Record<string, PlatformResource>>>>;
  /** Which appointment holds which slot, and the slot's status before, to restore on cancel. */
  holds: Record<string, Record<string, { appointmentId: string; previous: SlotStatus }>>;
  changes: ChangeRecord[];
  idempotency: Record<string, StoredAnswer>;
  counters: SimulatorCounters;
  /** Callback requests per practice (absent in state files written before they existed). */
  callbackRequests?: Record<string, CallbackRequestBody[]>;
  /** Consignes in force per practice (absent in older state files). */
  consignes?: Record<string, ConsignesBody>;
  /** Reminders and recalls handed by passerelle, per practice (absent in older state files). */
  reminders?: Record<string, ReminderBody[]>;
  /** Per practice and practitioner: the last slot publication and the ids of the slots it placed (issue 20). */
  publications?: Record<string, Record<string, { body: SlotPublicationBody; slotIds: string[] }>>;
  /** Coverage windows in force per practice (issue 20). */
  coverage?: Record<string, CoverageBody>;
}

const emptyCounters = (): SimulatorCounters => ({
  requests: 0,
  idempotentReplays: 0,
  faults429: 0,
  faults500: 0,
  webhooksDelivered: 0,
  webhooksDropped: 0,
  webhooksDuplicated: 0,
  webhooksFailed: 0,
});

export class SimulatorState {
  private data: StateFile;
  /** True when the state was read from an existing file (the seed is not applied again). */
  readonly restored: boolean;

  constructor(private readonly file: string | undefined) {
    if (file !== undefined && existsSync(file)) {
      this.data = JSON.parse(readFileSync(file, 'utf8')) as StateFile;
      if (this.data.format !== 1) throw new Error(`simulator state file ${file} has an unknown format`);
      this.restored = true;
    } else {
      this.data = {
        format: 1,
        seq: 0,
        idCounter: 0,
        practices: {},
        resources: {},
        holds: {},
        changes: [],
        idempotency: {},
        counters: emptyCounters(),
      };
      this.restored = false;
    }
  }

  get counters(): SimulatorCounters {
    return this.data.counters;
  }

  save(): void {
    if (this.file === undefined) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.file);
  }

  addPractice(p: PracticeRecord): void {
    this.data.practices[p.id] = p;
    this.data.resources[p.id] ??= {};
    this.data.holds[p.id] ??= {};
  }

  /** A practice's callback requests, oldest first. */
  callbackRequests(practiceId: string): CallbackRequestBody[] {
    return [...(this.data.callbackRequests?.[practiceId] ?? [])];
  }

  addCallbackRequest(practiceId: string, request: CallbackRequestBody): void {
    const all = (this.data.callbackRequests ??= {});
    (all[practiceId] ??= []).push(request);
  }

  /** A practice's reminders, oldest first. */
  reminders(practiceId: string): ReminderBody[] {
    return [...(this.data.reminders?.[practiceId] ?? [])];
  }

  /** Adds or replaces (same id) a reminder. */
  putReminder(practiceId: string, reminder: ReminderBody): void {
    const list = ((this.data.reminders ??= {})[practiceId] ??= []);
    const i = list.findIndex((r) => r.id === reminder.id);
    if (i >= 0) list[i] = reminder;
    else list.push(reminder);
  }

  consignes(practiceId: string): ConsignesBody | undefined {
    return this.data.consignes?.[practiceId];
  }

  setConsignes(practiceId: string, consignes: ConsignesBody): void {
    (this.data.consignes ??= {})[practiceId] = consignes;
  }

  publication(
    practiceId: string,
    practitionerId: string,
  ): { body: SlotPublicationBody; slotIds: string[] } | undefined {
    return this.data.publications?.[practiceId]?.[practitionerId];
  }

  setPublication(
    practiceId: string,
    practitionerId: string,
    publication: { body: SlotPublicationBody; slotIds: string[] },
  ): void {
    ((this.data.publications ??= {})[practiceId] ??= {})[practitionerId] = publication;
  }

  coverage(practiceId: string): CoverageBody | undefined {
    return this.data.coverage?.[practiceId];
  }

  setCoverage(practiceId: string, coverage: CoverageBody): void {
    (this.data.coverage ??= {})[practiceId] = coverage;
  }

  /** Slots the platform generated itself (origin `platform`: the seed's agendas), by id. */
  generatedSlotIds(practiceId: string): Set<string> {
    const out = new Set<string>();
    const seen = new Set<string>();
    for (const c of this.data.changes) {
      if (c.practiceId !== practiceId || c.type !== 'slot' || seen.has(c.id)) continue;
      seen.add(c.id);
      if (c.origin === 'platform') out.add(c.id);
    }
    return out;
  }

  practice(id: string): PracticeRecord | undefined {
    return this.data.practices[id];
  }

  practices(): PracticeRecord[] {
    return Object.values(this.data.practices);
  }

  /** A new id such as `apt-000012`: short, deterministic from a fresh state, valid as a FHIR id. */
  newId(prefix: string): string {
    this.data.idCounter += 1;
    return `${prefix}-${String(this.data.idCounter).padStart(6, '0')}`;
  }

  get<K extends ResourceType>(practiceId: string, type: K, id: string): ResourceOfType[K] | undefined {
    return this.data.resources[practiceId]?.[type]?.[id] as ResourceOfType[K] | undefined;
  }

  list<K extends ResourceType>(practiceId: string, type: K): ResourceOfType[K][] {
    return Object.values(this.data.resources[practiceId]?.[type] ?? {}) as ResourceOfType[K][];
  }

  /** Stores the resource and appends its change; returns the change (the caller saves and notifies). */
  put<K extends ResourceType>(
    practiceId: string,
    type: K,
    record: ResourceOfType[K],
    origin: ChangeOrigin,
  ): ChangeRecord {
    const byType: Partial<Record<ResourceType, Record<string, PlatformResource>>> = (this.data.resources[
      practiceId
    ] ??= {});
    const records: Record<string, PlatformResource> = (byType[type] ??= {});
    records[record.id] = record;
    return this.append({
      practiceId,
      type,
      id: record.id,
      version: record.version,
      op: 'upsert',
      origin,
      data: { ...record },
    });
  }

  /** Removes the resource; the change carries its last representation as a tombstone. */
  remove<K extends ResourceType>(
    practiceId: string,
    type: K,
    tombstone: ResourceOfType[K],
    origin: ChangeOrigin,
  ): ChangeRecord {
    delete this.data.resources[practiceId]?.[type]?.[tombstone.id];
    return this.append({
      practiceId,
      type,
      id: tombstone.id,
      version: tombstone.version,
      op: 'delete',
      origin,
      data: { ...tombstone },
    });
  }

  private append(change: Omit<ChangeRecord, 'seq'>): ChangeRecord {
    this.data.seq += 1;
    const c: ChangeRecord = { seq: this.data.seq, ...change };
    this.data.changes.push(c);
    return c;
  }

  /** Changes of one practice after `afterSeq`, in order, at most `limit`, and whether more follow. */
  changesAfter(
    practiceId: string,
    afterSeq: number,
    limit: number,
  ): { changes: ChangeRecord[]; hasMore: boolean } {
    const all = this.data.changes;
    // Binary search for the first seq > afterSeq (the list is ordered by seq).
    let lo = 0;
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((all[mid] as ChangeRecord).seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const out: ChangeRecord[] = [];
    for (let i = lo; i < all.length; i++) {
      const c = all[i] as ChangeRecord;
      if (c.practiceId !== practiceId) continue;
      if (out.length === limit) return { changes: out, hasMore: true };
      out.push(c);
    }
    return { changes: out, hasMore: false };
  }

  allChanges(practiceId: string): ChangeRecord[] {
    return this.data.changes.filter((c) => c.practiceId === practiceId);
  }

  get lastSeq(): number {
    return this.data.seq;
  }

  hold(practiceId: string, slotId: string): { appointmentId: string; previous: SlotStatus } | undefined {
    return this.data.holds[practiceId]?.[slotId];
  }

  setHold(
    practiceId: string,
    slotId: string,
    hold: { appointmentId: string; previous: SlotStatus } | null,
  ): void {
    const holds = (this.data.holds[practiceId] ??= {});
    if (hold === null) delete holds[slotId];
    else holds[slotId] = hold;
  }

  idempotent(practiceId: string, key: string): StoredAnswer | undefined {
    return this.data.idempotency[`${practiceId}|${key}`];
  }

  storeIdempotent(practiceId: string, key: string, answer: StoredAnswer): void {
    this.data.idempotency[`${practiceId}|${key}`] = answer;
  }

  /** Counts one more replay of the stored answer for `key`. */
  replayed(practiceId: string, key: string): void {
    const stored = this.data.idempotency[`${practiceId}|${key}`];
    if (stored !== undefined) stored.replays = (stored.replays ?? 0) + 1;
  }

  /** Every Idempotency-Key a practice's writes carried, with the status applied and the replays. */
  idempotencyKeys(practiceId: string): { key: string; status: number; replays: number }[] {
    const prefix = `${practiceId}|`;
    return Object.entries(this.data.idempotency)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, a]) => ({ key: k.slice(prefix.length), status: a.status, replays: a.replays ?? 0 }));
  }
}
