/**
 * Writing one outbox change to the FHIR server (design rules 3, 4, 6):
 * - **create** of an Appointment: conditional update keyed on its business identifier,
 *   `PUT Appointment?identifier=<system>|<value>` (ANS "Gestion d'agendas partagés", flow 6b;
 *   FHIR R4 http.html#cond-update), or `POST` with `If-None-Exist` where the server offers no
 *   conditional update. The value is the canonical record's own id unless the record already
 *   has one, so a retried or duplicated push finds the resource it made instead of a second one.
 *   Other kinds are created with `If-None-Exist` on a passerelle identifier (http.html#ccreate);
 * - **update**: read the current resource, map the change onto it (only mapped elements move:
 *   whatever the practice software holds that the profile does not map is kept), and `PUT` it
 *   with `If-Match` = the version the change was merged against (http.html#concurrency). A
 *   newer version there, or a 412, hands the engine the current resource (`PushResult.current`)
 *   to merge again; an identical result writes nothing (zero echo writes);
 * - **cancel**: the same update with `status = cancelled` and a reason, never a DELETE;
 * - the secretariat agent who booked travels in FrAppointment's operator extension, as the
 *   canonical record carries it; call messages go as Communication with their priority.
 * Every translation goes through the link's mapping profile (fromCanonical / toCanonical).
 */
import type { Resource } from '@medplum/fhirtypes';

import type {
  ExternalRecord,
  LinkMapping,
  OutboundChange,
  PushResult,
} from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { fromCanonical } from '../../src/mapping/run/engine.js';
import type { FhirResource } from '../../src/mapping/run/types.js';
import { EXT, PASSERELLE_FHIR_BASE } from '../../src/model/identifiers.js';
import type { Appointment, CanonicalResource, Identifier, ResourceKind } from '../../src/model/resources.js';
import { stableStringify } from '../../src/store/index.js';
import type { ServerCapabilities } from './capabilities.js';
import type { FhirClient, FhirReadResult, FhirWriteResult } from './client/index.js';
import type { OwnWrites } from './own-writes.js';
import { deletionRecord, mapInbound } from './validate-edge.js';

/** passerelle's identifier systems for records it creates on the server (other than appointments). */
export const PASSERELLE_ID_SYSTEM: Readonly<Record<ResourceKind, string>> = {
  Patient: `${PASSERELLE_FHIR_BASE}/sid/patient`,
  Practitioner: `${PASSERELLE_FHIR_BASE}/sid/practitioner`,
  PractitionerRole: `${PASSERELLE_FHIR_BASE}/sid/practitioner-role`,
  Schedule: `${PASSERELLE_FHIR_BASE}/sid/schedule`,
  Slot: `${PASSERELLE_FHIR_BASE}/sid/slot`,
  Appointment: `${PASSERELLE_FHIR_BASE}/sid/appointment`,
  Communication: `${PASSERELLE_FHIR_BASE}/sid/communication`,
};

/** Cancelling is a status with a reason (design.md); this one when the canonical record gives none. */
export const DEFAULT_CANCEL_REASON = 'Annulé par le secrétariat';

export interface PushDeps {
  readonly client: FhirClient;
  readonly mapping: () => Promise<LinkMapping>;
  readonly capabilities: () => Promise<ServerCapabilities>;
  /** The appointments' business identifier system; undefined → the profile's `appointmentSystem`. */
  readonly identifierSystem: string | undefined;
  readonly ownWrites: OwnWrites;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

function refused(change: OutboundChange, why: string): PasserelleError {
  return new PasserelleError('ERR_FHIR_PUSH_REFUSED', `${change.op} ${change.kind}: ${why}`, {
    details: { seq: change.seq, kind: change.kind, op: change.op },
  });
}

const isGone = (e: unknown): boolean =>
  isPasserelleError(e) && (e.details['httpStatus'] === 410 || e.details['httpStatus'] === 404);
const isPrecondition = (e: unknown): e is PasserelleError =>
  isPasserelleError(e) && e.code === 'ERR_FHIR_PRECONDITION_FAILED';

/**
 * The identifier system under which passerelle keys the records it creates on the server: the
 * appointments' business identifier, or passerelle's own system for other kinds.
 */
export function creationSystem(
  kind: ResourceKind,
  identifierSystem: string | undefined,
  plan: LinkMapping['plan'],
): string {
  return kind === 'Appointment'
    ? (identifierSystem ?? plan.constants['appointmentSystem'] ?? PASSERELLE_ID_SYSTEM.Appointment)
    : PASSERELLE_ID_SYSTEM[kind];
}

/** The business identifier value a record has, or will have, on the server. */
export function identifierValue(
  resource: { identifier?: readonly Identifier[] | unknown } | undefined,
  system: string,
): string | undefined {
  const ids = Array.isArray(resource?.identifier)
    ? (resource.identifier as { system?: unknown; value?: unknown }[])
    : [];
  const v = ids.find((i) => i.system === system)?.value;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function withIdentifier<T extends { identifier?: unknown }>(resource: T, system: string, value: string): T {
  const ids = Array.isArray(resource.identifier) ? (resource.identifier as { system?: unknown }[]) : [];
  if (ids.some((i) => i.system === system)) return resource;
  return { ...resource, identifier: [...ids, { system, value }] };
}

export function createPush(deps: PushDeps): (change: OutboundChange) => Promise<PushResult> {
  const { client, log } = deps;

  /** The server's resource as the engine sees it, for a re-merge; undefined when it cannot be mapped. */
  async function currentRecord(
    kind: ResourceKind,
    resource: Resource,
    m: LinkMapping,
  ): Promise<ExternalRecord | undefined> {
    const mapped = mapInbound(m.plan, m.context, resource as unknown as FhirResource);
    if (!mapped.ok) {
      log.warn('fhir current resource refused at the edge', { resourceType: kind, code: mapped.error.code });
      return undefined;
    }
    return mapped.record ?? undefined;
  }

  async function read(kind: ResourceKind, id: string): Promise<FhirReadResult<Resource> | 'gone'> {
    try {
      return await client.read<Resource>(kind, id, { signal: deps.signal });
    } catch (e) {
      if (isGone(e)) return 'gone';
      throw e;
    }
  }

  /** The change as it should read on the server: the key of conditional writes, a reason for a cancellation. */
  function prepare(
    change: OutboundChange,
    system: string | undefined,
    current: Resource | undefined,
  ): { data: CanonicalResource; key: string | undefined } {
    let data = change.data;
    let key: string | undefined;
    if (system !== undefined) {
      key =
        identifierValue(data, system) ??
        identifierValue(current as { identifier?: unknown } | undefined, system) ??
        change.canonicalId;
      data = withIdentifier(data, system, key);
    }
    if (
      data.resourceType === 'Appointment' &&
      (change.op === 'cancel' || data.status === 'cancelled') &&
      data.cancelationReason === undefined
    ) {
      data = { ...data, cancelationReason: { text: DEFAULT_CANCEL_REASON } } satisfies Appointment;
    }
    return { data, key };
  }

  async function conflict(
    change: OutboundChange,
    error: PasserelleError,
    current: Resource,
    m: LinkMapping,
  ): Promise<PushResult> {
    const record = await currentRecord(change.kind, current, m);
    log.info('fhir resource changed since the last sync; handed back for a re-merge', {
      seq: change.seq,
      kind: change.kind,
      externalId: current.id,
      version: current.meta?.versionId,
    });
    return record ? { ok: false, error, current: record } : { ok: false, error };
  }

  return async function push(change: OutboundChange): Promise<PushResult> {
    const m = await deps.mapping();
    const kind = change.kind;
    if (m.plan.kinds[kind]?.outbound !== true)
      return {
        ok: false,
        error: refused(change, `profile ${m.plan.name} does not write ${kind} to the practice software`),
      };
    if (change.op === 'reject')
      return { ok: false, error: refused(change, 'a refusal goes back to the secretariat only') };
    const system =
      kind === 'Appointment' || change.externalId === null
        ? creationSystem(kind, deps.identifierSystem, m.plan)
        : undefined;
    const withdraws = change.op === 'cancel' || change.op === 'delete';

    try {
      // ——— update: read what the server holds now ———
      let current: FhirReadResult<Resource> | undefined;
      if (change.externalId !== null) {
        const got = await read(kind, change.externalId);
        if (got === 'gone') {
          // Deleted there: a cancellation or withdrawal already holds; anything else is taken
          // as the deletion it is (a tombstone for the engine), never written back.
          if (withdraws || (change.data as { status?: string }).status === 'cancelled')
            return { ok: true, externalId: change.externalId };
          const error = new PasserelleError('ERR_FHIR_GONE', `${kind} was deleted on the FHIR server`, {
            details: { seq: change.seq, kind },
          });
          return { ok: false, error, current: deletionRecord(kind, change.externalId) };
        }
        current = got;
      } else if (change.op === 'delete') {
        return { ok: false, error: refused(change, 'the server never had this record') };
      }

      const prepared = prepare(change, system, current?.resource);
      const out = fromCanonical(
        m.plan,
        { ...change, data: prepared.data },
        m.context,
        current?.resource as FhirResource | undefined,
      );
      if (out.error) return { ok: false, error: out.error };
      if (out.skipped !== undefined)
        return {
          ok: false,
          error: refused(change, `the profile's filters keep this record from syncing (${out.skipped})`),
        };
      let fhir = out.fhir as unknown as Resource & { identifier?: unknown };
      if (system !== undefined && prepared.key !== undefined)
        fhir = withIdentifier(fhir, system, prepared.key);

      let written: FhirWriteResult<Resource>;
      if (current !== undefined && change.externalId !== null) {
        // Compared as JSON: key order and realms do not matter, values do.
        if (stableStringify(fhir) === stableStringify(current.resource)) {
          log.debug('fhir resource already holds the change', {
            seq: change.seq,
            kind,
            externalId: change.externalId,
          });
          return {
            ok: true,
            externalId: change.externalId,
            ...(current.versionId !== undefined && { version: current.versionId }),
          };
        }
        // If-Match is the version the change was merged against: if the practice changed the
        // resource since, the server refuses (412) and the engine merges its version in.
        written = await writeUpdate(
          change,
          { ...fhir, id: change.externalId },
          change.expectedVersion ?? current.versionId,
        );
      } else {
        written = await writeCreate(kind, fhir, system as string, prepared.key as string);
      }
      const id = written.id ?? change.externalId;
      if (id === undefined || id === null)
        throw new PasserelleError(
          'ERR_FHIR_RESPONSE_INVALID',
          `FHIR ${kind} write answered without the resource id`,
          { details: { kind } },
        );
      log.info('fhir change written', {
        seq: change.seq,
        kind,
        op: change.op,
        externalId: id,
        version: written.versionId,
        created: written.created,
      });
      return {
        ok: true,
        externalId: id,
        ...(written.versionId !== undefined && { version: written.versionId }),
      };
    } catch (e) {
      if (e instanceof ConflictSignal) return conflict(change, e.error, e.current, m);
      if (!isPasserelleError(e)) throw e;
      log.warn('fhir change not written', {
        seq: change.seq,
        kind,
        op: change.op,
        code: e.code,
        retryable: e.retryable,
      });
      return { ok: false, error: e };
    }
  };

  /**
   * PUT with If-Match. A 412 re-reads: a version other than the one sent is a conflict for the
   * engine to merge; the same one (a spurious 412: a proxy, or a condition) is sent once more.
   */
  async function writeUpdate(
    change: OutboundChange,
    resource: Resource & { id: string },
    ifMatch: string | undefined,
  ): Promise<FhirWriteResult<Resource>> {
    for (let attempt = 1; ; attempt++) {
      try {
        const written = await client.update(resource, {
          ...(ifMatch !== undefined && { ifMatch }),
          signal: deps.signal,
        });
        deps.ownWrites.wrote(change.kind, resource.id, written.versionId);
        return written;
      } catch (e) {
        if (!isPrecondition(e)) throw e;
        const now = await read(change.kind, resource.id);
        if (now === 'gone')
          throw new PasserelleError('ERR_FHIR_GONE', `${change.kind} was deleted on the FHIR server`, {
            details: { seq: change.seq, kind: change.kind },
          });
        if (now.versionId !== ifMatch || attempt >= 2) throw new ConflictSignal(e, now.resource);
      }
    }
  }

  async function writeCreate(
    kind: ResourceKind,
    fhir: Resource,
    system: string,
    value: string,
  ): Promise<FhirWriteResult<Resource>> {
    const token = `${system}|${value}`;
    const { id: _id, meta: _meta, ...body } = fhir as Resource & { meta?: unknown };
    deps.ownWrites.begin(token);
    try {
      const caps = await deps.capabilities().catch(() => undefined);
      // ANS flow 6b for appointments; conditional create otherwise (both safe to retry).
      const written =
        kind === 'Appointment' && (caps === undefined || caps.conditionalUpdate(kind))
          ? await client.conditionalUpdate(body as Resource, { identifier: token }, { signal: deps.signal })
          : await client.create(body as Resource, {
              ifNoneExist: { identifier: token },
              signal: deps.signal,
            });
      if (written.id !== undefined) deps.ownWrites.wrote(kind, written.id, written.versionId);
      return written;
    } finally {
      deps.ownWrites.end(token);
    }
  }
}

/** A 412 whose re-read found a newer version: the engine merges that version in. */
class ConflictSignal extends Error {
  constructor(
    readonly error: PasserelleError,
    readonly current: Resource,
  ) {
    super(error.message);
  }
}

/** The operator extension URL, for readers of this module (FrAppointment, delegated scenario). */
export const OPERATOR_EXTENSION = EXT.appointmentOperator;
