/** Options of one shard (`Database.open`), their defaults, and their validation. */
import { ValidationError } from '../errors.js';
import type { CompressionKind } from '../codec/compression.js';
import type { KeySource } from '../codec/key-source.js';
import type { FileIO } from '../io/file-io.js';
import { nodeFileIO } from '../io/node-file-io.js';

/**
 * When a commit counts as done.
 * - `'immediate'`: every commit is fsynced before `write` returns or `writeAsync` resolves; commits
 *   that `writeAsync` receives while an fsync is running share the next one.
 * - `'group'`: as immediate, but `writeAsync` waits up to `groupCommitWindowMs` for more commits to
 *   share an fsync with: more throughput under many concurrent writers, a little more latency.
 * - `'none'`: a commit is done once the operating system has it. It survives a crash of the process
 *   but not of the machine. Checkpoints do not fsync either.
 */
export type Durability = 'immediate' | 'group' | 'none';

/**
 * Encryption at rest (AES-256-GCM). `key` seals new data; `previousKeys` are keys from before a
 * rotation that older data still needs (until `rekey()` rewrites it). See docs/security.md.
 */
export interface EncryptionOptions {
  key: KeySource;
  previousKeys?: KeySource[];
}

/** Options for {@link Database.open}. Every field is optional. */
export interface DatabaseOptions {
  /** Compression of pages, WAL records and blobs. Default `'zstd'`. */
  compression?: CompressionKind;
  /** zstd level of pages and blobs, 1 (fastest) to 19 (smallest). Default 3. WAL records, kept only until the next checkpoint, always use zstd's fast level -1. */
  compressionLevel?: number;
  /** Encrypt everything the store writes. Chosen when the store is created. Default: off. */
  encryption?: EncryptionOptions;
  /** Store each distinct large value once, addressed by its BLAKE3 hash. Default true. */
  dedup?: boolean;
  /** Values of at least this many bytes are deduplicated (64 bytes to 64 MiB). Default 1024. */
  dedupThreshold?: number;
  /** Default `'immediate'`. */
  durability?: Durability;
  /** Target encoded size of a tree node in bytes, 512 to 65536. Default 4096. */
  pageSize?: number;
  /** Memory for decoded tree nodes, in bytes (at least 1 MiB). Default 256 MiB. */
  cacheSizeBytes?: number;
  /** Checkpoint once this many WAL bytes were written since the last one (at least 64 KiB). Default 64 MiB. */
  checkpointWalBytes?: number;
  /** Checkpoint at this interval while there are changes; 0 turns it off. Default 60000. */
  checkpointIntervalMs?: number;
  /**
   * Checkpoint once the memtables (commits not yet folded into the trees) hold this many bytes of
   * keys, values and bookkeeping (at least 64 KiB). Default 64 MiB.
   */
  memtableBytes?: number;
  /** Size of each WAL segment file (64 KiB to 1 GiB). Default 16 MiB. */
  walSegmentBytes?: number;
  /** With durability `'group'`: how long `writeAsync` gathers commits before an fsync (0 to 1000 ms). Default 2. */
  groupCommitWindowMs?: number;
  /**
   * On close, compact the page file if more than half of it (and over 1 MiB) is free space left by
   * rewrites and deletes, so the disk gets it back. Default true.
   */
  compactOnClose?: boolean;
  /**
   * Open for reading only: no writer lock is taken and not a byte is written (no recovery writes,
   * checkpoints, compactions or lock files), so it works beside a process that has the store open
   * for writing, and on a directory this user may only read. Reads see the latest checkpoint plus
   * the WAL replayed in memory, as of the open; every write or maintenance call throws
   * ReadOnlyError. The store must exist. Default false. See docs/operations.md.
   */
  readOnly?: boolean;
  /** File-system implementation; tests pass a fault-injecting one. Default: the real file system. */
  io?: FileIO;
}

/** Options with every default applied. */
export interface ResolvedDatabaseOptions {
  compression: CompressionKind;
  compressionLevel: number;
  encryption: EncryptionOptions | null;
  dedup: boolean;
  dedupThreshold: number;
  durability: Durability;
  pageSize: number;
  cacheSizeBytes: number;
  checkpointWalBytes: number;
  checkpointIntervalMs: number;
  memtableBytes: number;
  walSegmentBytes: number;
  groupCommitWindowMs: number;
  compactOnClose: boolean;
  readOnly: boolean;
  io: FileIO;
}

const KIB = 1024;
const MIB = 1024 * 1024;

function integerOption(
  opts: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  unit = '',
): number {
  const v = opts[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(`option ${name} must be an integer from ${min} to ${max}${unit}, got ${JSON.stringify(v)}`);
  }
  return v;
}

const KNOWN = new Set([
  'compression',
  'compressionLevel',
  'encryption',
  'dedup',
  'dedupThreshold',
  'durability',
  'pageSize',
  'cacheSizeBytes',
  'checkpointWalBytes',
  'checkpointIntervalMs',
  'memtableBytes',
  'walSegmentBytes',
  'groupCommitWindowMs',
  'compactOnClose',
  'readOnly',
  'io',
]);

/** Applies defaults and checks every option; throws ValidationError naming the bad one. */
export function resolveDatabaseOptions(options: DatabaseOptions | undefined, extraKnown: readonly string[] = []): ResolvedDatabaseOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ValidationError('options must be an object');
  }
  const o = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key) && !extraKnown.includes(key)) {
      throw new ValidationError(`unknown option ${key}; the options are ${[...KNOWN, ...extraKnown].join(', ')}`);
    }
  }
  const durability = o.durability ?? 'immediate';
  if (durability !== 'immediate' && durability !== 'group' && durability !== 'none') {
    throw new ValidationError(`option durability must be 'immediate', 'group' or 'none', got ${JSON.stringify(durability)}`);
  }
  const io = (o.io ?? nodeFileIO) as FileIO;
  if (typeof io !== 'object' || typeof io.open !== 'function') throw new ValidationError('option io must implement FileIO');
  const compression = o.compression ?? 'zstd';
  if (compression !== 'zstd' && compression !== 'lz4' && compression !== 'none') {
    throw new ValidationError(`option compression must be 'zstd', 'lz4' or 'none', got ${JSON.stringify(compression)}`);
  }
  const dedup = o.dedup ?? true;
  if (typeof dedup !== 'boolean') throw new ValidationError(`option dedup must be true or false, got ${JSON.stringify(dedup)}`);
  const compactOnClose = o.compactOnClose ?? true;
  if (typeof compactOnClose !== 'boolean') throw new ValidationError(`option compactOnClose must be true or false, got ${JSON.stringify(compactOnClose)}`);
  const readOnly = o.readOnly ?? false;
  if (typeof readOnly !== 'boolean') throw new ValidationError(`option readOnly must be true or false, got ${JSON.stringify(readOnly)}`);
  return {
    compression,
    compressionLevel: integerOption(o, 'compressionLevel', 3, 1, 19),
    encryption: checkEncryption(o.encryption),
    dedup,
    dedupThreshold: integerOption(o, 'dedupThreshold', 1024, 64, 64 * MIB, ' bytes'),
    durability,
    pageSize: integerOption(o, 'pageSize', 4096, 512, 65536, ' bytes'),
    cacheSizeBytes: integerOption(o, 'cacheSizeBytes', 256 * MIB, MIB, Number.MAX_SAFE_INTEGER, ' bytes'),
    checkpointWalBytes: integerOption(o, 'checkpointWalBytes', 64 * MIB, 64 * KIB, Number.MAX_SAFE_INTEGER, ' bytes'),
    checkpointIntervalMs: integerOption(o, 'checkpointIntervalMs', 60_000, 0, 2 ** 31 - 1, ' ms'),
    memtableBytes: integerOption(o, 'memtableBytes', 64 * MIB, 64 * KIB, Number.MAX_SAFE_INTEGER, ' bytes'),
    walSegmentBytes: integerOption(o, 'walSegmentBytes', 16 * MIB, 64 * KIB, 1024 * MIB, ' bytes'),
    groupCommitWindowMs: integerOption(o, 'groupCommitWindowMs', 2, 0, 1000, ' ms'),
    compactOnClose,
    readOnly,
    io,
  };
}

function checkEncryption(v: unknown): EncryptionOptions | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v) || !('key' in v)) {
    throw new ValidationError('option encryption must be an object { key, previousKeys? }; see docs/security.md for key sources');
  }
  const e = v as { key: unknown; previousKeys?: unknown };
  if (e.previousKeys !== undefined && !Array.isArray(e.previousKeys)) throw new ValidationError('option encryption.previousKeys must be an array of keys');
  for (const k of Object.keys(e)) if (k !== 'key' && k !== 'previousKeys') throw new ValidationError(`unknown option encryption.${k}; use key and previousKeys`);
  return e as EncryptionOptions;
}
