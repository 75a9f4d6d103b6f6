/**
 * Options of one shard (`Database.open`), their defaults, and their validation: the one place the
 * option vocabulary (the seed guide's RedbOptions names: encryptionEnabled, encryptionKey,
 * previousEncryptionKeys, dedupEnabled, ...) is checked. RedbManager resolves its options through
 * {@link resolveSettings} once, at the edge, and opens each shard with the resolved result; a
 * resolved object is never resolved again. The table of every option is docs/options.md.
 *
 * The spellings of version 0.1, `encryption: { key, previousKeys }` and `dedup`, still work for one
 * minor version; each emits one DeprecationWarning per process (codes REDB_DEP_ENCRYPTION_OPTION,
 * REDB_DEP_DEDUP_OPTION).
 */
import { ValidationError } from '../errors.js';
import type { CompressionKind } from '../codec/compression.js';
import { defaultCompressionThreads, MAX_COMPRESSION_THREADS } from '../codec/compression-pool.js';
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
  /**
   * Worker threads that compress checkpoint leaves beside the committing thread (zstd only; one pool
   * per process, shared by every store in it). 0 compresses on the committing thread alone. Default:
   * one per CPU core beyond the first, at most 2.
   */
  compressionThreads?: number;
  /** Encrypt everything the store writes (AES-256-GCM). Needs `encryptionKey`. Chosen when the store is created. Default false. */
  encryptionEnabled?: boolean;
  /** The key: 32 raw bytes, `{ file }`, `{ env }` or `{ passphrase }` (docs/security.md). Only with `encryptionEnabled`. */
  encryptionKey?: KeySource;
  /** Keys from before a rotation that older data still needs (until `rekey()` rewrites it). */
  previousEncryptionKeys?: KeySource[];
  /** Store each distinct large value once, addressed by its BLAKE3 hash. Default true. */
  dedupEnabled?: boolean;
  /** @deprecated Since 0.2: use `encryptionEnabled: true, encryptionKey, previousEncryptionKeys`. */
  encryption?: EncryptionOptions;
  /** @deprecated Since 0.2: use `dedupEnabled`. */
  dedup?: boolean;
  /** Values of at least this many bytes are deduplicated (64 bytes to 64 MiB). Default 1024. */
  dedupThreshold?: number;
  /** Default `'immediate'`. */
  durability?: Durability;
  /** Target encoded size of a tree node in bytes, 512 to 65536. Default 16384. */
  pageSize?: number;
  /** Memory for decoded tree nodes, in bytes (at least 1 MiB). Default 128 MiB. */
  cacheSizeBytes?: number;
  /** Checkpoint once this many WAL bytes were written since the last one (at least 64 KiB). Default 96 MiB. */
  checkpointWalBytes?: number;
  /** Checkpoint at this interval while there are changes; 0 turns it off. Default 60000. */
  checkpointIntervalMs?: number;
  /**
   * Checkpoint once the memtables (commits not yet folded into the trees) hold this many bytes of
   * keys, values and bookkeeping (at least 64 KiB). Default 96 MiB.
   */
  memtableBytes?: number;
  /** Size of each WAL segment file (64 KiB to 1 GiB). Default 16 MiB. */
  walSegmentBytes?: number;
  /** With durability `'group'`: how long `writeAsync` gathers commits before an fsync (0 to 1000 ms). Default 2. */
  groupCommitWindowMs?: number;
  /**
   * On close, give the page file's free space (left by rewrites and deletes) back to the disk: compact
   * the file if more than half of it (and over 1 MiB) is free, else trim it if at least a tenth (and
   * 1 MiB) is, by moving the blocks past its live size into holes and truncating. Default true.
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

const RESOLVED: unique symbol = Symbol('redb.resolvedOptions');

/**
 * Options with every default applied and every value checked. `encryption` is null for a plain
 * store. Carries a brand so that passing it on (to a shard, to repair) never resolves it again.
 */
export interface ResolvedDatabaseOptions {
  readonly [RESOLVED]: true;
  compression: CompressionKind;
  compressionLevel: number;
  compressionThreads: number;
  encryption: EncryptionOptions | null;
  dedupEnabled: boolean;
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

/**
 * Decoded nodes cached by default. 128 MiB rather than 256: the store is embedded in someone else's
 * process, the operating system's page cache keeps the compressed blocks a miss reads, and in
 * alternating runs (docs/performance.md, "Node cache size") the audit queries and the ingest took no
 * more CPU with 128 than with 256, while 10,000,000 random puts peaked at 908 MiB instead of 1,043.
 */
const DEFAULT_CACHE_BYTES = 128 * MIB;

/**
 * Default memtableBytes and checkpointWalBytes. Random keys rewrite most of a table's leaves at every
 * checkpoint, so the work of a long ingest falls with the commits a checkpoint gathers: at
 * 10,000,000 random puts, 96 MiB instead of 64 ran 68.9k puts/s instead of 50.1k, peaking at 939 MiB
 * of RSS instead of 864; 128 MiB ran 84-93k but peaked at 1,017-1,042 (docs/performance.md,
 * "Checkpoint size").
 */
const DEFAULT_CHECKPOINT_BYTES = 96 * MIB;

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
  'compressionThreads',
  'encryptionEnabled',
  'encryptionKey',
  'previousEncryptionKeys',
  'dedupEnabled',
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

/**
 * Defaults of DatabaseOptions that the manager also opens its shards with.
 * Nodes of 16 KiB: a checkpoint's cost for scattered writes is mostly per leaf it stores (encode,
 * compress, checksum, place, refer to), not per byte, and scattered writes touch nearly every leaf
 * whatever its size. 10,000,000 random puts ran 1.34x as fast as with 4 KiB nodes. The price is in
 * point reads of tables larger than the cache: each read of an uncached leaf reads and decompresses
 * a whole node (0.90x of 4 KiB's rate at 16 KiB, 0.55x at 32 KiB), and a cache holds a quarter as
 * many scattered hot keys (docs/performance.md, "Node size").
 */
export const SHARD_DEFAULTS = { pageSize: 16384, groupCommitWindowMs: 2 } as const;

const DEPRECATED: Record<string, { code: string; use: string }> = {
  encryption: { code: 'REDB_DEP_ENCRYPTION_OPTION', use: 'encryptionEnabled: true, encryptionKey and previousEncryptionKeys' },
  dedup: { code: 'REDB_DEP_DEDUP_OPTION', use: 'dedupEnabled' },
};
const warned = new Set<string>();

function warnDeprecated(name: string): void {
  if (warned.has(name)) return;
  warned.add(name);
  const d = DEPRECATED[name]!;
  process.emitWarning(`redb-audit: option ${name} is deprecated and will be removed in the next minor version; use ${d.use}`, { type: 'DeprecationWarning', code: d.code });
}

/** Whether `o` came out of {@link resolveDatabaseOptions} or {@link resolveSettings}. */
export function isResolved(o: unknown): o is ResolvedDatabaseOptions {
  return typeof o === 'object' && o !== null && (o as Partial<ResolvedDatabaseOptions>)[RESOLVED] === true;
}

/**
 * Applies defaults and checks every option; throws ValidationError naming the bad one. The
 * deprecated spellings are translated here (with a one-time warning) and nowhere else.
 */
export function resolveDatabaseOptions(options: DatabaseOptions | ResolvedDatabaseOptions | undefined, extraKnown: readonly string[] = []): ResolvedDatabaseOptions {
  if (isResolved(options)) return options;
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ValidationError('options must be an object');
  }
  const o = { ...((options ?? {}) as Record<string, unknown>) };
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key) && !extraKnown.includes(key) && !(key in DEPRECATED)) {
      throw new ValidationError(`unknown option ${key}; the options are ${[...KNOWN, ...extraKnown].join(', ')}`);
    }
  }
  if (o.encryption !== undefined) {
    warnDeprecated('encryption');
    for (const n of ['encryptionEnabled', 'encryptionKey', 'previousEncryptionKeys']) {
      if (o[n] !== undefined) throw new ValidationError(`options encryption (deprecated) and ${n} cannot be given together; use encryptionEnabled, encryptionKey and previousEncryptionKeys`);
    }
    const e = checkEncryption(o.encryption);
    delete o.encryption;
    if (e) {
      o.encryptionEnabled = true;
      o.encryptionKey = e.key;
      if (e.previousKeys !== undefined) o.previousEncryptionKeys = e.previousKeys;
    }
  }
  if (o.dedup !== undefined) {
    warnDeprecated('dedup');
    if (o.dedupEnabled !== undefined) throw new ValidationError('options dedup (deprecated) and dedupEnabled cannot be given together; use dedupEnabled');
    if (typeof o.dedup !== 'boolean') throw new ValidationError(`option dedup must be true or false, got ${JSON.stringify(o.dedup)}`);
    o.dedupEnabled = o.dedup;
    delete o.dedup;
  }
  return resolveSettings(o);
}

/**
 * Resolves the shard-level options of `o` (any other keys are the caller's to check): RedbManager
 * calls this once on its own options, Database.open through {@link resolveDatabaseOptions}.
 */
export function resolveSettings(o: Record<string, unknown>): ResolvedDatabaseOptions {
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
  const dedupEnabled = o.dedupEnabled ?? true;
  if (typeof dedupEnabled !== 'boolean') throw new ValidationError(`option dedupEnabled must be true or false, got ${JSON.stringify(dedupEnabled)}`);
  const compactOnClose = o.compactOnClose ?? true;
  if (typeof compactOnClose !== 'boolean') throw new ValidationError(`option compactOnClose must be true or false, got ${JSON.stringify(compactOnClose)}`);
  const readOnly = o.readOnly ?? false;
  if (typeof readOnly !== 'boolean') throw new ValidationError(`option readOnly must be true or false, got ${JSON.stringify(readOnly)}`);
  return {
    [RESOLVED]: true,
    compression,
    compressionLevel: integerOption(o, 'compressionLevel', 3, 1, 19),
    compressionThreads: integerOption(o, 'compressionThreads', defaultCompressionThreads(), 0, MAX_COMPRESSION_THREADS),
    encryption: resolveEncryption(o),
    dedupEnabled,
    dedupThreshold: integerOption(o, 'dedupThreshold', 1024, 64, 64 * MIB, ' bytes'),
    durability,
    pageSize: integerOption(o, 'pageSize', SHARD_DEFAULTS.pageSize, 512, 65536, ' bytes'),
    cacheSizeBytes: integerOption(o, 'cacheSizeBytes', DEFAULT_CACHE_BYTES, MIB, Number.MAX_SAFE_INTEGER, ' bytes'),
    checkpointWalBytes: integerOption(o, 'checkpointWalBytes', DEFAULT_CHECKPOINT_BYTES, 64 * KIB, Number.MAX_SAFE_INTEGER, ' bytes'),
    checkpointIntervalMs: integerOption(o, 'checkpointIntervalMs', 60_000, 0, 2 ** 31 - 1, ' ms'),
    memtableBytes: integerOption(o, 'memtableBytes', DEFAULT_CHECKPOINT_BYTES, 64 * KIB, Number.MAX_SAFE_INTEGER, ' bytes'),
    walSegmentBytes: integerOption(o, 'walSegmentBytes', 16 * MIB, 64 * KIB, 1024 * MIB, ' bytes'),
    groupCommitWindowMs: integerOption(o, 'groupCommitWindowMs', SHARD_DEFAULTS.groupCommitWindowMs, 0, 1000, ' ms'),
    compactOnClose,
    readOnly,
    io,
  };
}

/** encryptionEnabled / encryptionKey / previousEncryptionKeys, checked together. */
function resolveEncryption(o: Record<string, unknown>): EncryptionOptions | null {
  const enabled = o.encryptionEnabled ?? false;
  if (typeof enabled !== 'boolean') throw new ValidationError(`option encryptionEnabled must be true or false, got ${JSON.stringify(enabled)}`);
  if (enabled && o.encryptionKey === undefined) {
    throw new ValidationError('option encryptionEnabled is true but no encryptionKey is given (a 32-byte key, { file }, { env } or { passphrase })');
  }
  if (!enabled && o.encryptionKey !== undefined) {
    throw new ValidationError('option encryptionKey is given but encryptionEnabled is false; set encryptionEnabled: true to encrypt');
  }
  if (o.previousEncryptionKeys !== undefined && !Array.isArray(o.previousEncryptionKeys)) throw new ValidationError('option previousEncryptionKeys must be an array of keys');
  if (!enabled) return null;
  const previous = o.previousEncryptionKeys as KeySource[] | undefined;
  return { key: o.encryptionKey as KeySource, ...(previous !== undefined ? { previousKeys: previous } : {}) };
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
