/**
 * What operators do to the sync state (design rules 7 and 9), each audited and, where it
 * changes a record, synced to both sides through the outbox in the same transaction:
 * resolve a conflict by side or by value, resolve a patient-match review (link to a known
 * patient, or create a new one), replay or discard a dead letter.
 */
import { randomUUID } from 'node:crypto';

import type { Connector, ExternalRecord, InboundMessage, IngestResult } from '../connector/contract.js';
import { PasserelleError } from '../errors.js';
import { flatten, normalize, unflatten } from '../model/fields.js';
import { FR_IDENTIFIER_TYPE_SYSTEM, IDENTIFIER_TYPE, idnpsFromRpps, OID } from '../model/identifiers.js';
import { otherRole } from '../model/ownership.js';
import type { CanonicalResource, Patient, Practitioner } from '../model/resources.js';
import { validateAs } from '../model/validate.js';
import type { Tx } from '../store/index.js';
import type { PractitionerMapping } from '../store/repos/practitioner-mappings.js';
import type {
  AuditInput,
  Conflict,
  DeadLetter,
  DeadLetterStatus,
  JsonObject,
  ReviewItem,
} from '../store/types.js';
import { recordConflictResolved } from './activity.js';
import { REVIEW_PATIENT_MATCH, type SyncEngine } from './engine.js';
import { overlayHeld } from './merge.js';
import { agendaColumns, patientOf } from './records.js';

/** Who acts, for the audit trail (design rule 11). */
export interface Actor {
  readonly id: string;
  readonly role?: string | null;
  readonly requestId?: string | null;
  readonly via?: string;
}

export type ConflictResolution =
  { readonly side: 'practice' | 'secretariat' } | { readonly values: Readonly<Record<string, unknown>> };
/** How an operator decides a link's unknown practitioner id (issue 18 point 1). */
export type PractitionerMappingDecision =
  | { readonly practitionerId: string }
  | { readonly rpps: string }
  | { readonly create: true; readonly family?: string; readonly given?: string; readonly rpps?: string };

export type ReviewResolution =
  { readonly action: 'link'; readonly patientId: string } | { readonly action: 'create' };

export interface ConflictDetail {
  readonly conflict: Conflict;
  /** Per field: the merge base, each side's value, and what the canonical record holds now. */
  readonly fields: readonly {
    path: string;
    base: unknown;
    practice: unknown;
    secretariat: unknown;
    current: unknown;
  }[];
}

export type ReplayOutcome = 'requeued' | 'already-replayed' | IngestResult['outcome'];

export interface DeadLetterFilter {
  readonly practiceId?: string;
  readonly linkId?: string;
  readonly source?: DeadLetter['source'];
  readonly reasonCode?: string;
  readonly limit?: number;
}

function audit(actor: Actor, event: Omit<AuditInput, 'actor' | 'role' | 'requestId' | 'via'>): AuditInput {
  return {
    ...event,
    actor: actor.id,
    role: actor.role ?? null,
    requestId: actor.requestId ?? null,
    via: actor.via ?? 'api',
  };
}

export class SyncOperator {
  constructor(
    private readonly engine: SyncEngine,
    private readonly connectorOf: (linkId: string) => Connector | undefined,
  ) {}

  private get store() {
    return this.engine.store;
  }

  async conflictDetail(id: string, actor: Actor): Promise<ConflictDetail> {
    const conflict = await this.store.conflicts.get(id);
    if (!conflict) throw new PasserelleError('ERR_NOT_FOUND', `conflict ${id} not found`);
    const record = await this.store.resources.get(conflict.recordId);
    const current = record ? flatten(record.data) : null;
    await this.store.audit.append(
      audit(actor, {
        action: 'conflict.read',
        practiceId: conflict.practiceId,
        resourceType: conflict.kind,
        resourceId: conflict.recordId,
        patientId: record ? patientOf(record.data as unknown as CanonicalResource) : null,
        outcome: 'success',
        details: { conflictId: id },
      }),
    );
    return {
      conflict,
      fields: conflict.fields.map((f) => ({ ...f, current: current?.get(f.path) ?? null })),
    };
  }

  /** Applies the chosen values to the canonical record and sends it to both sides. */
  async resolveConflict(id: string, resolution: ConflictResolution, actor: Actor): Promise<Conflict> {
    const closed = await this.store.transaction(async (tx) => {
      const conflict = await tx.conflicts.get(id);
      if (!conflict) throw new PasserelleError('ERR_NOT_FOUND', `conflict ${id} not found`);
      const ctx = await this.engine.practiceContext(tx, conflict.practiceId);
      if (conflict.status !== 'open')
        throw new PasserelleError('ERR_CONFLICT', `conflict ${id} is already ${conflict.status}`);
      const record = await tx.resources.get(conflict.recordId);
      if (!record) throw new PasserelleError('ERR_CONFLICT', `the record of conflict ${id} no longer exists`);
      const paths = conflict.fields.map((f) => f.path);
      if ('values' in resolution) {
        const unknown = Object.keys(resolution.values).filter((p) => !paths.includes(p));
        const missing = paths.filter((p) => !(p in resolution.values));
        if (unknown.length > 0 || missing.length > 0) {
          throw new PasserelleError(
            'ERR_VALIDATION',
            `body.values: give a value for each field of the conflict (${paths.join(', ')})`,
            {
              issues: [
                ...unknown.map((p) => ({
                  path: `body.values.${p}`,
                  message: 'not a field of this conflict',
                })),
                ...missing.map((p) => ({ path: `body.values.${p}`, message: 'is required' })),
              ],
            },
          );
        }
      }
      const fields = flatten(record.data);
      for (const f of conflict.fields) {
        const value = 'side' in resolution ? f[resolution.side] : resolution.values[f.path];
        if (value === null || value === undefined) fields.delete(f.path);
        else fields.set(f.path, value);
      }
      const data = unflatten<CanonicalResource>(conflict.kind, conflict.recordId, fields);
      const valid = validateAs(conflict.kind, data, { testLink: ctx.links.some((l) => l.isTest) });
      if (!valid.ok) {
        throw new PasserelleError(
          'ERR_VALIDATION',
          `the chosen values make an invalid ${conflict.kind}: ${valid.issues[0]?.path}: ${valid.issues[0]?.message}`,
          { issues: valid.issues },
        );
      }
      const stored = await tx.resources.put({
        id: record.id,
        practiceId: record.practiceId,
        kind: record.kind,
        data: data as unknown as JsonObject,
        origin: record.origin,
        expectedVersion: record.version,
        ...(await agendaColumns(tx, data)),
      });
      const result = await tx.conflicts.close(id, {
        status: 'resolved',
        resolution: 'side' in resolution ? { side: resolution.side } : { values: { ...resolution.values } },
        by: actor.id,
      });
      await recordConflictResolved(tx, conflict, 'side' in resolution ? `side:${resolution.side}` : 'values');
      await tx.audit.append(
        audit(actor, {
          action: 'conflict.resolve',
          practiceId: conflict.practiceId,
          resourceType: conflict.kind,
          resourceId: conflict.recordId,
          patientId: patientOf(data),
          outcome: 'success',
          details: { conflictId: id, fields: paths, ...('side' in resolution && { side: resolution.side }) },
        }),
      );
      for (const role of ['practice', 'secretariat'] as const) {
        for (const target of this.engine.targets(ctx, conflict.kind, role)) {
          await this.engine.enqueue(
            tx,
            ctx,
            target,
            data,
            `${target.id}:${record.id}:v${stored.version}:resolve:${id}`,
            'resolve',
          );
        }
      }
      return result;
    });
    this.engine.notify();
    return closed;
  }

  /**
   * A patient seen for the first time looked like known ones. `link`: it is that patient (the
   * held record merges into it, its side's contact details apply under ownership); `create`:
   * it is a new patient (it is released to the other side).
   */
  async resolveReview(id: string, resolution: ReviewResolution, actor: Actor): Promise<ReviewItem> {
    const closed = await this.store.transaction(async (tx) => {
      const review = await tx.reviews.get(id);
      if (!review) throw new PasserelleError('ERR_NOT_FOUND', `review item ${id} not found`);
      const ctx = await this.engine.practiceContext(tx, review.practiceId);
      if (review.status !== 'open')
        throw new PasserelleError('ERR_CONFLICT', `review item ${id} is already ${review.status}`);
      if (review.type !== REVIEW_PATIENT_MATCH || !review.recordId)
        throw new PasserelleError('ERR_CONFLICT', `review item ${id} is not a patient match`);
      const heldId = review.recordId;
      const link = ctx.links.find((l) => l.id === review.payload['linkId']);
      const result = await tx.reviews.close(id, {
        status: 'resolved',
        resolution: { ...resolution },
        by: actor.id,
      });
      if (resolution.action === 'link') {
        const target = await tx.resources.get(resolution.patientId);
        if (
          !target ||
          target.kind !== 'Patient' ||
          target.practiceId !== review.practiceId ||
          target.id === heldId
        ) {
          throw new PasserelleError(
            'ERR_VALIDATION',
            `body.patientId: not another patient of practice ${review.practiceId}`,
            { issues: [{ path: 'body.patientId', message: 'not another patient of this practice' }] },
          );
        }
        const survivor = await this.engine.survivor(tx, 'Patient', target.id);
        const held = link ? await tx.snapshots.get(link.id, 'Patient', heldId) : undefined;
        await this.engine.mergePatients(tx, ctx, heldId, survivor, `review-${id}`);
        if (link && held) {
          await this.engine.applyTheirs(tx, ctx, link, {
            canonicalId: survivor,
            theirs: normalize(held.data as unknown as Patient, survivor),
            version: held.externalVersion,
            via: 'review',
            withoutBase: true,
          });
          await this.engine.flushPlanned(tx, ctx);
        }
      } else {
        const record = await tx.resources.get(heldId);
        if (record && link) {
          for (const target of this.engine.targets(ctx, 'Patient', otherRole(link.role))) {
            await this.engine.enqueue(
              tx,
              ctx,
              target,
              record.data as unknown as CanonicalResource,
              `${target.id}:${heldId}:v${record.version}:review:${id}`,
              'review',
            );
          }
        }
      }
      // Changes that waited for this patient go now.
      for (const waiting of await tx.outbox.list({
        practiceId: review.practiceId,
        status: 'pending',
        lastErrorCode: 'ERR_SYNC_REVIEW_PENDING',
        limit: 10_000,
      })) {
        await tx.outbox.requeue(waiting.seq);
      }
      await tx.audit.append(
        audit(actor, {
          action: 'review.resolve',
          practiceId: review.practiceId,
          resourceType: 'Patient',
          resourceId: heldId,
          patientId: heldId,
          outcome: 'success',
          details: {
            reviewId: id,
            action: resolution.action,
            ...(resolution.action === 'link' && { linkedTo: resolution.patientId }),
          },
        }),
      );
      return result;
    });
    this.engine.notify();
    return closed;
  }

  /**
   * Decides a link's practitioner mapping review: the practice software's id `localId` on the
   * link is that practitioner of the practice (by id or RPPS), or a new one (from what the link
   * said of it, or the name given). Every appointment held for it gets the practitioner and
   * goes to the other side; later messages with that id map without a review.
   */
  async resolvePractitionerMapping(
    linkId: string,
    localId: string,
    decision: PractitionerMappingDecision,
    actor: Actor,
  ): Promise<PractitionerMapping & { released: string[] }> {
    const out = await this.store.transaction(async (tx) => {
      const link = await tx.links.get(linkId);
      if (!link) throw new PasserelleError('ERR_NOT_FOUND', `link ${linkId} not found`);
      const ctx = await this.engine.practiceContext(tx, link.practiceId);
      const mapping = await tx.practitionerMappings.get(linkId, localId);
      if (!mapping)
        throw new PasserelleError('ERR_NOT_FOUND', `no practitioner mapping for this id on link ${linkId}`);
      if (mapping.status !== 'open')
        throw new PasserelleError(
          'ERR_CONFLICT',
          `the practitioner mapping of this id on link ${linkId} is already decided`,
        );
      let practitionerId: string;
      let resolution: 'existing' | 'rpps' | 'created';
      if ('practitionerId' in decision) {
        const target = await tx.resources.get(decision.practitionerId);
        if (!target || target.kind !== 'Practitioner' || target.practiceId !== link.practiceId) {
          throw new PasserelleError(
            'ERR_VALIDATION',
            `body.practitionerId: not a practitioner of practice ${link.practiceId}`,
            { issues: [{ path: 'body.practitionerId', message: 'not a practitioner of this practice' }] },
          );
        }
        practitionerId = await this.engine.survivor(tx, 'Practitioner', target.id);
        resolution = 'existing';
      } else if (!('create' in decision)) {
        const value = idnpsFromRpps(decision.rpps);
        const found = (await tx.resources.list({ practiceId: link.practiceId, kind: 'Practitioner' })).filter(
          (r) =>
            ((r.data as unknown as Practitioner).identifier ?? []).some(
              (i) => i.system === OID.idnps && i.value === value,
            ),
        );
        if (found.length === 0)
          throw new PasserelleError(
            'ERR_VALIDATION',
            'body.rpps: no practitioner of this practice has this RPPS',
            { issues: [{ path: 'body.rpps', message: 'no practitioner of this practice has this RPPS' }] },
          );
        if (found.length > 1)
          throw new PasserelleError(
            'ERR_CONFLICT',
            'body.rpps: several practitioners of this practice have this RPPS; map by practitionerId',
          );
        practitionerId = (found[0] as { id: string }).id;
        resolution = 'rpps';
      } else {
        practitionerId = randomUUID();
        const proposal = (mapping.proposal ?? {}) as unknown as Partial<Practitioner>;
        const name =
          decision.family !== undefined || decision.given !== undefined
            ? [
                {
                  ...(decision.family !== undefined && { family: decision.family }),
                  ...(decision.given !== undefined && { given: [decision.given] }),
                },
              ]
            : proposal.name;
        const identifier = [
          ...(proposal.identifier ?? []),
          ...(decision.rpps !== undefined
            ? [
                {
                  use: 'official' as const,
                  system: OID.idnps,
                  value: idnpsFromRpps(decision.rpps),
                  type: { coding: [{ system: FR_IDENTIFIER_TYPE_SYSTEM, code: IDENTIFIER_TYPE.idnps }] },
                },
              ]
            : []),
        ];
        const data: Practitioner = {
          ...proposal,
          resourceType: 'Practitioner',
          id: practitionerId,
          active: proposal.active ?? true,
          ...(name && { name }),
          ...(identifier.length > 0 && { identifier }),
        };
        // As if the link had created it: its snapshot, the other side's copy, the sync audit.
        await this.engine.applyTheirs(tx, ctx, link, {
          canonicalId: practitionerId,
          theirs: normalize(data, practitionerId),
          version: null,
          via: 'review',
          newExternalId: localId,
          externalId: localId,
        });
        await this.engine.flushPlanned(tx, ctx);
        resolution = 'created';
      }
      const { mapping: decided, released } = await this.engine.mapPractitioner(
        tx,
        ctx,
        link,
        localId,
        practitionerId,
        resolution,
        actor.id,
      );
      await tx.audit.append(
        audit(actor, {
          action: 'practitioner-mapping.resolve',
          practiceId: link.practiceId,
          resourceType: 'Practitioner',
          resourceId: practitionerId,
          patientId: null,
          outcome: 'success',
          details: { linkId, localId, resolution, released: released.length },
        }),
      );
      return { ...decided, held: 0, released };
    });
    this.engine.notify();
    return out;
  }

  /**
   * Replays a dead letter, idempotently: an outbound change is sent again with the record's
   * current state (never an older one over a newer); an inbound message is mapped again when
   * its connector can, and applied again.
   */
  async replayDeadLetter(
    id: string,
    actor: Actor,
  ): Promise<{ deadLetter: DeadLetter; outcome: ReplayOutcome }> {
    const dl = await this.store.deadLetters.get(id);
    if (!dl) throw new PasserelleError('ERR_NOT_FOUND', `dead letter ${id} not found`);
    if (dl.status === 'replayed') return { deadLetter: dl, outcome: 'already-replayed' };
    if (dl.status === 'discarded')
      throw new PasserelleError('ERR_CONFLICT', `dead letter ${id} was discarded`);
    const link = dl.linkId ? await this.store.links.get(dl.linkId) : undefined;
    if (!link) throw new PasserelleError('ERR_CONFLICT', `the link of dead letter ${id} no longer exists`);
    if (dl.source === 'outbox') return this.replayOutbound(dl, actor);

    const entry = dl.ref ? await this.store.inbox.get(Number(dl.ref)) : undefined;
    const connector = this.connectorOf(link.id);
    let message: InboundMessage;
    if (entry?.body && connector?.remap)
      message = {
        ...(await connector.remap({ body: entry.body, messageType: entry.messageType })),
        dedupe: null,
      };
    else message = { dedupe: null, records: (dl.payload?.['records'] as ExternalRecord[] | undefined) ?? [] };
    if (message.records.length === 0 && !message.error) {
      throw new PasserelleError(
        'ERR_CONFLICT',
        `dead letter ${id} has nothing to replay: the message body is gone and its connector cannot map it again`,
      );
    }
    const result = await this.engine.ingest(link, message, 'replay', { deadLetter: false });
    if (result.outcome !== 'applied' && result.outcome !== 'rejected')
      return { deadLetter: dl, outcome: result.outcome };
    const done = await this.store.transaction(async (tx) => {
      const marked = await tx.deadLetters.setStatus(id, 'replayed', actor.id);
      if (entry)
        await tx.inbox.finish(entry.id, {
          status: result.outcome === 'applied' ? 'processed' : 'rejected',
          errorCode: null,
          error: null,
        });
      await tx.audit.append(
        audit(actor, {
          action: 'deadletter.replay',
          practiceId: dl.practiceId,
          resourceType: dl.kind,
          resourceId: null,
          outcome: 'success',
          details: { deadLetterId: id, source: dl.source, outcome: result.outcome },
        }),
      );
      return marked;
    });
    return { deadLetter: done, outcome: result.outcome };
  }

  /**
   * Replays one message of the browser with the current mapping: through its dead letter when
   * it has an open one (the same path as the dead-letter routes), otherwise mapped again from
   * its stored bytes and applied through the ingest path, without its dedupe key. Applying the
   * same records again changes nothing that is already so (the merge compares with what each
   * side holds), so a replay is idempotent.
   */
  async replayMessage(
    ref: { readonly source: 'inbox' | 'outbox'; readonly n: number },
    actor: Actor,
  ): Promise<{ outcome: ReplayOutcome; deadLetterId: string | null }> {
    const linkId =
      ref.source === 'inbox'
        ? (await this.store.inbox.get(ref.n))?.linkId
        : (await this.store.outbox.get(ref.n))?.linkId;
    if (linkId === undefined)
      throw new PasserelleError(
        'ERR_NOT_FOUND',
        `message ${ref.source === 'inbox' ? 'in' : 'out'}-${ref.n} not found`,
      );
    const open = (
      await this.store.deadLetters.list({ linkId, source: ref.source, status: 'open', limit: 1000 })
    ).find((d) => d.ref === String(ref.n));
    if (open)
      return { outcome: (await this.replayDeadLetter(open.id, actor)).outcome, deadLetterId: open.id };
    if (ref.source === 'outbox')
      throw new PasserelleError(
        'ERR_CONFLICT',
        `outbound message out-${ref.n} has no open dead letter: the dispatcher still sends it, or it was delivered`,
      );
    const entry = await this.store.inbox.get(ref.n);
    if (!entry) throw new PasserelleError('ERR_NOT_FOUND', `message in-${ref.n} not found`);
    if (entry.status === 'received')
      throw new PasserelleError('ERR_CONFLICT', `message in-${ref.n} is still waiting to be applied`);
    if (!entry.body)
      throw new PasserelleError(
        'ERR_CONFLICT',
        `message in-${ref.n} has no body left (retention): nothing to replay`,
      );
    const link = await this.store.links.require(entry.linkId);
    const connector = this.connectorOf(link.id);
    if (!connector?.remap)
      throw new PasserelleError(
        'ERR_CONFLICT',
        `link ${link.id} is not running or cannot map a stored message again`,
      );
    const message: InboundMessage = {
      ...(await connector.remap({ body: entry.body, messageType: entry.messageType })),
      dedupe: null,
    };
    const result = await this.engine.ingest(link, message, 'replay', { deadLetter: false });
    await this.store.transaction(async (tx) => {
      if (result.outcome === 'applied' || result.outcome === 'rejected') {
        await tx.inbox.finish(entry.id, {
          status: result.outcome === 'applied' ? 'processed' : 'rejected',
          errorCode: null,
          error: null,
          flags: result.flags,
        });
      }
      await tx.audit.append(
        audit(actor, {
          action: 'message.replay',
          practiceId: link.practiceId,
          resourceType: 'Message',
          resourceId: `in-${entry.id}`,
          outcome: result.outcome === 'applied' ? 'success' : 'failure',
          details: { linkId: link.id, outcome: result.outcome },
        }),
      );
    });
    return { outcome: result.outcome, deadLetterId: null };
  }

  private async replayOutbound(
    dl: DeadLetter,
    actor: Actor,
  ): Promise<{ deadLetter: DeadLetter; outcome: ReplayOutcome }> {
    const out = await this.store.transaction(async (tx: Tx) => {
      const again = await tx.deadLetters.get(dl.id);
      if (again?.status === 'replayed') return { deadLetter: again, outcome: 'already-replayed' as const };
      const ctx = await this.engine.practiceContext(tx, dl.practiceId ?? '');
      const link = ctx.links.find((l) => l.id === dl.linkId);
      if (!link)
        throw new PasserelleError('ERR_CONFLICT', `the link of dead letter ${dl.id} no longer exists`);
      const payload = dl.payload ?? {};
      const key = `replay:${dl.id}`;
      if (payload['op'] === 'reject') {
        await tx.outbox.enqueue({
          practiceId: ctx.practiceId,
          linkId: link.id,
          kind: dl.kind as CanonicalResource['resourceType'],
          recordId: dl.recordId ?? dl.id,
          op: 'reject',
          payload: {
            data: payload['data'],
            cause: 'replay',
            externalId: payload['externalId'],
            reason: payload['reason'],
          },
          priority: 3,
          idempotencyKey: key,
        });
      } else {
        const record = dl.recordId ? await tx.resources.get(dl.recordId) : undefined;
        if (!record)
          throw new PasserelleError('ERR_CONFLICT', `the record of dead letter ${dl.id} no longer exists`);
        // Held fields of an open conflict keep what the target holds.
        const open = (await tx.conflicts.list({ recordId: record.id, status: 'open', limit: 1 }))[0];
        const snap = open ? await tx.snapshots.get(link.id, record.kind, record.id) : undefined;
        const data = unflatten<CanonicalResource>(
          record.kind,
          record.id,
          overlayHeld(
            flatten(record.data),
            snap ? flatten(snap.data) : null,
            new Set(open?.fields.map((f) => f.path) ?? []),
          ),
        );
        await this.engine.enqueue(tx, ctx, link, data, key, 'replay');
      }
      const marked = await tx.deadLetters.setStatus(dl.id, 'replayed', actor.id);
      await tx.audit.append(
        audit(actor, {
          action: 'deadletter.replay',
          practiceId: dl.practiceId,
          resourceType: dl.kind,
          resourceId: dl.recordId,
          outcome: 'success',
          details: { deadLetterId: dl.id, source: dl.source },
        }),
      );
      return { deadLetter: marked, outcome: 'requeued' as const };
    });
    this.engine.notify();
    return out;
  }

  async discardDeadLetter(id: string, actor: Actor): Promise<DeadLetter> {
    return this.store.transaction(async (tx) => {
      const dl = await tx.deadLetters.get(id);
      if (!dl) throw new PasserelleError('ERR_NOT_FOUND', `dead letter ${id} not found`);
      if (dl.status !== 'open')
        throw new PasserelleError('ERR_CONFLICT', `dead letter ${id} is already ${dl.status}`);
      const marked = await tx.deadLetters.setStatus(id, 'discarded', actor.id);
      await tx.audit.append(
        audit(actor, {
          action: 'deadletter.discard',
          practiceId: dl.practiceId,
          resourceType: dl.kind,
          resourceId: dl.recordId,
          outcome: 'success',
          details: { deadLetterId: id, source: dl.source, reasonCode: dl.reasonCode },
        }),
      );
      return marked;
    });
  }

  /** Replays every open dead letter matching `filter`, oldest first, one by one. */
  async replayMany(
    filter: DeadLetterFilter,
    actor: Actor,
  ): Promise<{ items: { id: string; outcome: ReplayOutcome | 'error'; error?: string }[] }> {
    const open = await this.store.deadLetters.list({
      ...filter,
      status: 'open' as DeadLetterStatus,
      limit: Math.min(filter.limit ?? 100, 1000),
    });
    const items: { id: string; outcome: ReplayOutcome | 'error'; error?: string }[] = [];
    for (const dl of open) {
      try {
        items.push({ id: dl.id, outcome: (await this.replayDeadLetter(dl.id, actor)).outcome });
      } catch (e) {
        items.push({ id: dl.id, outcome: 'error', error: (e as { code?: string }).code ?? 'ERR_INTERNAL' });
      }
    }
    return { items };
  }
}
