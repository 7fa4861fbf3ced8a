/**
 * A record as a peer holds it, already in the canonical shape, and the operations passerelle
 * asks a peer to perform. Shared by the mapping (which builds them) and the connector contract
 * (which carries them), so it sits below both.
 */
import type { CanonicalResource, ResourceKind } from './resources.js';

/** One record as the peer holds it, already mapped to the canonical shape. */
export interface ExternalRecord {
  readonly kind: ResourceKind;
  /** The record's id on the peer (FHIR logical id, secretariat id, HL7 placer/filler id, IPP…). */
  readonly externalId: string;
  /**
   * Peer's version (ETag, meta.versionId, sequence) — dedupes pulls and feeds If-Match. It must
   * change whenever the record changes: the engine treats an unchanged version as an unchanged
   * record. Leave it out when the peer has none (HL7 v2).
   */
  readonly version?: string;
  readonly updatedAt?: string;
  /** A tombstone: the peer deleted the record (cancellation, entered-in-error, S17, deletion). */
  readonly deleted?: boolean;
  readonly data: CanonicalResource;
  /**
   * The canonical id passerelle gave the record when it created it on the peer, as the peer
   * keeps it (a business identifier): a record read back before passerelle committed the peer's
   * id — a crash in between — is that record, not a new one from the peer.
   */
  readonly writtenAs?: string;
  /** Identifiers the peer holds for the record in *other* systems (merge hints, e.g. ADT A40 MRG). */
  readonly supersedes?: readonly string[];
  /**
   * What the mapping dropped or assumed for this record (`appointment-status-dropped`,
   * `practitioner-missing`): part of the message's outcome flags and of the record's audit event.
   */
  readonly flags?: readonly string[];
  /**
   * A Practitioner whose id the link does not know yet is not created: an operator maps the id
   * to a canonical practitioner first (the link's practitioner mapping, docs/sync.md). Without
   * it, a new practitioner of a link that may create practitioners is created as before.
   */
  readonly needsMapping?: boolean;
}

/** What the dispatcher asks a peer to do with one record. */
export type OutboundOp = 'upsert' | 'cancel' | 'delete' | 'reject';
