/**
 * What the repositories need to keep patient data sealed at rest (docs/security.md, "Sealed at
 * rest"). The implementation is src/security/sealing.ts (`Keyring`); the store only sees this
 * interface, so it never holds or derives keys itself.
 *
 * Associated data names the table, the column and the row a value belongs to (`aad` below):
 * a sealed value copied onto another row does not open.
 */
export interface ColumnSealer {
  readonly currentKeyId: string;
  sealText(plaintext: string, aad: string): string;
  /** A value written before sealing existed (no envelope) comes back as it is. */
  openText(stored: string, aad: string): string;
  sealBytes(plaintext: Buffer, aad: string): Buffer;
  openBytes(stored: Buffer, aad: string): Buffer;
  /** The key id a stored value is sealed under; null when it is not sealed. */
  keyIdOf(stored: string | Buffer): string | null;
  isCurrent(stored: string | Buffer): boolean;
  /** Keyed hash for lookup columns (patient match keys): under the current key. */
  blindIndex(value: string): string;
  /** Under every configured key, current first: what a lookup must try while a rotation runs. */
  blindIndexes(value: string): string[];
}

/**
 * How a store treats patient-bearing columns: sealed under a key ring, or written in clear. Only
 * the ingest benchmark asks for `plain`, to measure what sealing costs beside it in the same
 * run; the service and the CLI always open the store with the configured key ring.
 */
export type StoreSealing = ColumnSealer | { readonly plain: true };

/** The associated data of a sealed column value: where it lives. */
export const aad = (table: string, column: string, row: string): string => `${table}.${column}:${row}`;

/** Seal/open helpers the repositories use; a plain store passes values through. */
export interface Seal {
  text(plaintext: string, aad: string): string;
  open(stored: string, aad: string): string;
  bytes(plaintext: Buffer, aad: string): Buffer;
  openBytes(stored: Buffer, aad: string): Buffer;
  /** Whether a stored value may be kept as it is: sealed under the current key (always, for a plain store). */
  isCurrent(stored: string): boolean;
  /** The value stored in a lookup column (a match key, a peer's id): keyed, so it gives nothing away. */
  index(value: string): string;
  /** Every value a lookup must try: the keyed ones, and the unkeyed one of rows not yet re-sealed. */
  indexes(value: string): string[];
}

export function sealOf(sealing: StoreSealing): Seal {
  if ('plain' in sealing) {
    return {
      text: (p) => p,
      open: (s) => s,
      bytes: (p) => p,
      openBytes: (s) => s,
      isCurrent: () => true,
      index: (v) => v,
      indexes: (v) => [v],
    };
  }
  const s = sealing;
  return {
    text: (p, a) => s.sealText(p, a),
    open: (v, a) => s.openText(v, a),
    bytes: (p, a) => s.sealBytes(p, a),
    openBytes: (v, a) => s.openBytes(v, a),
    isCurrent: (v) => s.isCurrent(v),
    index: (v) => s.blindIndex(v),
    indexes: (v) => [...s.blindIndexes(v), v],
  };
}
