/**
 * The transform applied to every stored unit (page-file block, WAL record payload) between its
 * encoded form and the bytes on disk. The framing around a unit (lengths, checksum) belongs to the
 * caller; the codec reports how the payload was transformed in one flags byte plus a key id.
 *
 * Encoding runs in two stages because a block's identity (its file offset) is bound into the
 * encryption, and the offset can only be allocated once the compressed size is known:
 * `compress` -> `planSeal` gives the stored length -> caller allocates -> `seal(..., aad)`.
 *
 * Codec flags byte:
 *   bits 0-1  compression: 0 none, 1 zstd, 2 lz4
 *   bit  7    encrypted (AES-256-GCM; the stored bytes are nonce + ciphertext + tag)
 */

export const CodecFlag = {
  CompressionMask: 0x03,
  Zstd: 0x01,
  Lz4: 0x02,
  Encrypted: 0x80,
} as const;

/** Output of the compression stage. */
export interface CompressedUnit {
  flags: number;
  data: Uint8Array;
}

/** Output of the sealing stage: what goes to disk. */
export interface SealedUnit {
  flags: number;
  keyId: number;
  stored: Uint8Array;
}

/** What sealing a unit will produce, known before the authenticated data is. */
export interface SealPlan {
  flags: number;
  keyId: number;
  storedLength: number;
}

/** Transforms payloads to and from their stored form. */
export interface PageCodec {
  /**
   * Compresses when that saves space; may return the payload itself. Payloads shorter than
   * `minLength` are not even tried (the WAL passes a larger one: a small commit's record saves little,
   * and compressing it costs a fixed setup that shows in every durable commit). With `transient`, the
   * unit's data may be a view of a scratch buffer that the codec's next compress call overwrites: only
   * for a caller that seals and copies it out before compressing anything else.
   */
  compress(payload: Uint8Array, minLength?: number, transient?: boolean): CompressedUnit;
  /**
   * {@link compress} for a WAL record, which lives only until the next checkpoint: zstd runs at level
   * 1 whatever the configured level (on record-sized inputs level 3 took 3x as long for the same size).
   */
  compressRecord(payload: Uint8Array, minLength?: number): CompressedUnit;
  /** Whether {@link compressAll} has worker threads to help it (else it compresses one payload after another). */
  readonly compressesInParallel: boolean;
  /**
   * {@link compress} for many payloads at once, with worker threads helping when the codec has any
   * (see compression-pool.ts). Every unit is transient: its data may be shared memory that the codec's
   * next compress call overwrites.
   */
  compressAll(payloads: readonly Uint8Array[]): CompressedUnit[];
  /**
   * {@link compressAll}, started now and taken later: the workers compress while the caller does other
   * work. Nothing else may be compressed in between through compressAll or startCompressAll.
   */
  startCompressAll(payloads: readonly Uint8Array[]): { take(): CompressedUnit[] };
  /** Flags, key id and stored length that {@link seal} will produce for `unit`. */
  planSeal(unit: CompressedUnit): SealPlan;
  /**
   * Encrypts (when configured) with `aad` authenticated but not stored: the unit's identity, so a
   * unit moved elsewhere or replayed from an older write fails to open.
   */
  seal(unit: CompressedUnit, aad: Uint8Array): SealedUnit;
  /**
   * Reverses seal and compress; throws {@link CodecDecodeError} when the bytes do not decode. The
   * result is a plain Uint8Array, never a Buffer (see plainBytes), and may be a view of `stored`.
   */
  open(flags: number, keyId: number, stored: Uint8Array, rawLength: number, aad: Uint8Array): Uint8Array;
}

/** Thrown by a codec when stored bytes cannot be turned back into the payload; callers add location. */
export class CodecDecodeError extends Error {}
