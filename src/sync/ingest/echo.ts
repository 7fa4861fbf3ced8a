/**
 * Echo suppression and version dedupe (design rule 6), the first step of applying a side's
 * record: a record the side holds as we last wrote or read it, a peer version already seen or
 * older than the last one, an id the side merged away — none of them reaches the merge.
 */
import type { CanonicalResource } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type { JsonObject, Link, Snapshot } from '../../store/types.js';

export interface EchoInput {
  readonly canonicalId: string;
  readonly theirs: CanonicalResource;
  readonly theirsHash: string;
  readonly version: string | null;
  /** Whether the record comes under an id its side merged away (checked last: it reads). */
  readonly stale?: () => Promise<boolean>;
}

/**
 * The flags of a record that needs no merge, after keeping the snapshot's version current and
 * mapping its id (`mapIdentity`) as the case needs; undefined when the record goes on to merge.
 */
export async function suppressEcho(
  tx: Tx,
  link: Link,
  input: EchoInput,
  snap: Snapshot | undefined,
  compare: ((a: string, b: string) => number) | undefined,
  mapIdentity: () => Promise<void>,
): Promise<string[] | undefined> {
  const { canonicalId, theirs, theirsHash } = input;
  const kind = theirs.resourceType;
  /** Older than what that side held at the last sync (ordered versions only). */
  const older =
    snap !== undefined &&
    compare !== undefined &&
    input.version !== null &&
    snap.externalVersion !== null &&
    compare(input.version, snap.externalVersion) < 0;

  // Echo suppression (design rule 6): the side holds what we last wrote to / read from it.
  if (snap && snap.hash === theirsHash) {
    if (input.version !== null && input.version !== snap.externalVersion && !older) {
      await tx.snapshots.put({
        linkId: link.id,
        kind,
        canonicalId,
        data: snap.data,
        hash: snap.hash,
        externalVersion: input.version,
      });
    }
    await mapIdentity();
    return ['echo'];
  }
  // Same peer version as the last sync: nothing changed there; adopt how it represents it.
  if (snap && input.version !== null && snap.externalVersion === input.version) {
    await tx.snapshots.put({
      linkId: link.id,
      kind,
      canonicalId,
      data: theirs as unknown as JsonObject,
      hash: theirsHash,
      externalVersion: input.version,
    });
    await mapIdentity();
    return ['same-version'];
  }

  // Older than what that side held at the last sync: history there, already taken into account.
  if (older) {
    await mapIdentity();
    return ['stale-version'];
  }
  if (input.stale && (await input.stale())) return ['superseded-id'];
  return undefined;
}
