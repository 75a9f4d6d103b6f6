/**
 * The page codec a store uses: compression (zstd, lz4 or none) then, when the store is encrypted,
 * AES-256-GCM under the ring's current key. Units read back may carry any compression and any key id
 * in the ring, so settings can change between opens and keys can rotate without rewriting old data.
 */
import { EncryptionKeyError } from '../errors.js';
import { plainBytes } from '../util/bytes.js';
import { gcmOpen, gcmSeal, SEAL_OVERHEAD } from './aes-gcm.js';
import { createCompressor, Decompressors, MIN_COMPRESS, type CompressionKind, type Compressor } from './compression.js';
import { compressionPool } from './compression-pool.js';
import type { KeyRing } from './key-ring.js';
import { RecordCompressionGate } from './record-gate.js';
import { CodecDecodeError, CodecFlag, type CompressedUnit, type PageCodec, type SealedUnit, type SealPlan } from './page-codec.js';

/**
 * zstd level of WAL records (see PageCodec.compressRecord): the first fast level. On a 1.5 MB record
 * of the benchmark's half-random values it compressed in 2.7 ms against 4.9 ms at level 1, to the
 * same size; on 1.7 MB of JSON audit events in 1.9 ms against 2.1 ms, 7.7x against 10.7x.
 * A record lives only until the next checkpoint, so speed wins over size.
 */
const RECORD_LEVEL = -1;

export class StoreCodec implements PageCodec {
  private readonly compressor: Compressor | null;
  private readonly recordCompressor: Compressor | null;
  private readonly recordGate = new RecordCompressionGate();
  private readonly decompressors = new Decompressors();
  /** The zstd level compressAll hands to the pool; null when it compresses here alone. */
  private readonly parallelLevel: number | null;
  readonly compressesInParallel: boolean;
  private readonly threads: number;

  constructor(
    compression: CompressionKind,
    level: number,
    /** The store's keys; null for an unencrypted store. */
    readonly keyRing: KeyRing | null,
    /** Worker threads that help {@link compressAll} (zstd only); 0 compresses on the calling thread. */
    threads = 0,
  ) {
    this.compressor = createCompressor(compression, level);
    this.parallelLevel = compression === 'zstd' && threads > 0 ? level : null;
    this.compressesInParallel = this.parallelLevel !== null;
    this.threads = threads;
    this.recordCompressor = compression === 'zstd' && level !== RECORD_LEVEL ? createCompressor(compression, RECORD_LEVEL) : this.compressor;
  }

  compress(payload: Uint8Array, minLength = 0, transient = false): CompressedUnit {
    return compressWith(this.compressor, payload, minLength, transient);
  }

  compressRecord(payload: Uint8Array, minLength = 0): CompressedUnit {
    if (!this.recordCompressor || payload.length < minLength || !this.recordGate.shouldTry()) return { flags: 0, data: payload };
    const unit = compressWith(this.recordCompressor, payload, minLength);
    this.recordGate.observe(payload.length, unit.flags === 0 ? null : unit.data.length);
    return unit;
  }

  compressAll(payloads: readonly Uint8Array[]): CompressedUnit[] {
    return this.startCompressAll(payloads).take();
  }

  startCompressAll(payloads: readonly Uint8Array[]): { take(): CompressedUnit[] } {
    if (this.parallelLevel === null || payloads.length < 2) {
      const done = payloads.map((p) => this.compress(p));
      return { take: () => done };
    }
    const flag = this.compressor!.flag;
    // Short payloads stay as they are, as compress() leaves them (MIN_COMPRESS).
    const long = payloads.filter((p) => p.length >= MIN_COMPRESS);
    const started = compressionPool(this.threads).start(long, this.parallelLevel);
    return {
      take: () => {
        const packed = started.take();
        const units = new Array<CompressedUnit>(payloads.length);
        for (let i = 0, j = 0; i < payloads.length; i++) {
          const p = payloads[i]!;
          const data = p.length >= MIN_COMPRESS ? packed[j++] : null;
          units[i] = data ? { flags: flag, data } : { flags: 0, data: p };
        }
        return units;
      },
    };
  }

  planSeal(unit: CompressedUnit): SealPlan {
    if (!this.keyRing) return { flags: unit.flags, keyId: 0, storedLength: unit.data.length };
    return { flags: unit.flags | CodecFlag.Encrypted, keyId: this.keyRing.currentId, storedLength: unit.data.length + SEAL_OVERHEAD };
  }

  seal(unit: CompressedUnit, aad: Uint8Array): SealedUnit {
    if (!this.keyRing) return { flags: unit.flags, keyId: 0, stored: unit.data };
    const keyId = this.keyRing.currentId;
    return { flags: unit.flags | CodecFlag.Encrypted, keyId, stored: gcmSeal(this.keyRing.key(keyId)!, unit.data, aad) };
  }

  open(flags: number, keyId: number, stored: Uint8Array, rawLength: number, aad: Uint8Array): Uint8Array {
    let data = stored;
    if (flags & CodecFlag.Encrypted) {
      if (!this.keyRing) throw new CodecDecodeError('an encrypted unit in a store opened without encryption');
      const key = this.keyRing.key(keyId);
      if (!key) throw new EncryptionKeyError(`data is encrypted under key id ${keyId}, which this store was not opened with`);
      data = gcmOpen(key, stored, aad);
    } else if (this.keyRing) {
      // Everything an encrypted store writes is encrypted: a plaintext unit here was put there by someone else.
      throw new CodecDecodeError('an unencrypted unit in an encrypted store');
    }
    return plainBytes(this.decompressors.decompress(flags & CodecFlag.CompressionMask, data, rawLength));
  }
}

function compressWith(compressor: Compressor | null, payload: Uint8Array, minLength: number, transient = false): CompressedUnit {
  const data = compressor && payload.length >= minLength ? compressor.compress(payload, transient) : null;
  return data ? { flags: compressor!.flag, data } : { flags: 0, data: payload };
}
