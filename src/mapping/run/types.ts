import type { ErrorIssue, PasserelleError } from '../../errors.js';
import type { ExternalRecord, OutboundOp } from '../../model/records.js';
import type { CanonicalResource, ResourceKind } from '../../model/resources.js';
import type { FieldReport } from './report.js';

export interface MappingContext {
  /** The practice's IANA zone; else the profile's `timezone`; else Europe/Paris. */
  readonly timezone?: string;
  /** A link marked as test: INS test/demo OIDs are accepted (src/model/validate.ts). */
  readonly testLink?: boolean;
  /** Clock for outbound MSH-7 (epoch ms). */
  readonly now?: () => number;
  /** Outbound MSH-10; defaults to one derived from the clock. */
  readonly controlId?: string;
  /** Validate produced records against the canonical model (default true). */
  readonly validate?: boolean;
  /** Also list protocol input the profile does not read (CLI, dry-run). */
  readonly inventory?: boolean;
  /**
   * The id of a kind a message may lack (`optional`), when the message names none: the link's
   * default practitioner. Rules reading that kind's id paths read it; no record of it is made.
   */
  readonly defaultIds?: Readonly<Partial<Record<ResourceKind, string>>>;
}

/** A FHIR R4 resource as received (JSON). */
export type FhirResource = { readonly resourceType: string } & Record<string, unknown>;

export interface FilteredRecord {
  readonly kind: ResourceKind;
  readonly externalId: string;
  readonly reason: string;
}

export interface ToCanonicalResult {
  /** False when a rule failed or a record breaks the canonical model: apply nothing. */
  readonly ok: boolean;
  readonly records: ExternalRecord[];
  readonly report: FieldReport[];
  /** e.g. `ins-not-qualified` (an INS dropped because PID-32 is not VALI), `filtered`. */
  readonly flags: string[];
  readonly issues: ErrorIssue[];
  /** Records the profile's filters keep from syncing. */
  readonly filtered: FilteredRecord[];
  /** `SIU^S12`, or the FHIR resource type. */
  readonly messageType: string;
  /** The first error, ready to throw or hand to the engine as InboundMessage.error. */
  readonly error?: PasserelleError;
}

/** A related record rendered in the same message (an appointment's Patient → PID). */
export interface RelatedRecord {
  readonly data: CanonicalResource;
  /** Its id on this peer (identity map), or null. */
  readonly externalId: string | null;
  /** passerelle's id of the record: a peer that knows the record by it gets it at `id.newId`. */
  readonly canonicalId?: string;
}

/** What fromCanonical renders: an OutboundChange, or the part of it that matters here. */
export interface CanonicalChange {
  readonly op: OutboundOp;
  readonly kind: ResourceKind;
  readonly canonicalId?: string;
  readonly externalId: string | null;
  readonly data: CanonicalResource;
  readonly base?: CanonicalResource | null;
  readonly related?: readonly RelatedRecord[];
}

export interface RenderedHl7 {
  readonly messageType: string;
  readonly text: string;
  readonly bytes: Buffer;
  readonly charset: string;
}

export interface FromCanonicalResult {
  readonly ok: boolean;
  /** Appointment `created|moved|modified|cancelled|noshow|deleted`, Slot `blocked|freed|…`, others `created|updated|deleted`. */
  readonly event: string;
  readonly hl7?: RenderedHl7;
  /** The FHIR resource to write (update: the peer's current one with the mapped elements set). Absent for a delete. */
  readonly fhir?: FhirResource;
  /** Set when the profile's filters keep this record from syncing: nothing to send. */
  readonly skipped?: string;
  readonly report: FieldReport[];
  readonly issues: ErrorIssue[];
  readonly error?: PasserelleError;
}
