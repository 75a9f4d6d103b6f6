/**
 * RedbOptions: the store-wide settings, in the vocabulary of the ForgeOne guides (base_dir,
 * encryption_enabled, sharding_enabled, shard_count, compression_level, ... in TypeScript casing),
 * their defaults, their validation, and the resolved per-shard options they imply.
 *
 * Resolved once, at the edge: resolveRedbOptions checks the store-level options here and the
 * shard-level ones through shard/options.ts resolveSettings (the same names, ranges and messages
 * as Database.open), and shardOptions hands each shard its resolved options, which the shard does
 * not resolve again. Every option is in the table of docs/options.md.
 */
import path from 'node:path';
import { ValidationError } from '../errors.js';
import type { CompressionKind } from '../codec/compression.js';
import type { KeySource } from '../codec/key-source.js';
import type { FileIO } from '../io/file-io.js';
import { resolveSettings, SHARD_DEFAULTS, type Durability, type ResolvedDatabaseOptions } from '../shard/options.js';
import { nodeFileIO } from '../io/node-file-io.js';

/** Options of a RedbManager. Every field is optional; see docs/operations.md for guidance. */
export interface RedbOptions {
  /** Directory holding the store (created if missing). Default `./redb-data`. */
  baseDir?: string;
  /** Split data over several shards, routed by tenant. Default false (one shard). */
  shardingEnabled?: boolean;
  /** Number of shards when sharding is enabled, 1 to 256. Default 4. Fixed when the store is created. */
  shardCount?: number;
  /** `'zstd'` (default), `'lz4'` or `'none'`. */
  compression?: CompressionKind;
  /** zstd level of pages and blobs, 1 to 19. Default 3. WAL records always use zstd's fast level -1. */
  compressionLevel?: number;
  /**
   * Worker threads that compress checkpoint leaves beside the committing thread (zstd only; one pool
   * per process). 0 compresses on the committing thread alone. Default: one per CPU core beyond the
   * first, at most 2.
   */
  compressionThreads?: number;
  /** Encrypt everything at rest with AES-256-GCM. Needs `encryptionKey`. Default false. */
  encryptionEnabled?: boolean;
  /** The key (raw 32 bytes, `{ file }`, `{ env }` or `{ passphrase }`). */
  encryptionKey?: KeySource;
  /** Keys from before a rotation that older data still needs. */
  previousEncryptionKeys?: KeySource[];
  /** Store each distinct large value once (BLAKE3-addressed). Default true. */
  dedupEnabled?: boolean;
  /** Values of at least this many bytes are deduplicated. Default 1024. */
  dedupThreshold?: number;
  /** Checkpoint interval while there are changes; 0 turns it off. Default 60000. */
  checkpointIntervalMs?: number;
  /** Checkpoint after this many WAL bytes. Default 96 MiB. */
  checkpointWalBytes?: number;
  /** WAL segment size (log rotation). Default 16 MiB. */
  walSegmentBytes?: number;
  /** `'immediate'` (default), `'group'` or `'none'`; see DatabaseOptions. */
  durability?: Durability;
  /** Memory for decoded tree nodes across all shards. Default 128 MiB. */
  cacheSizeBytes?: number;
  /**
   * Memory for commits not yet folded into the trees (the memtables) across all shards; a shard
   * checkpoints when its share is full. Default 96 MiB.
   */
  memtableBytes?: number;
  /**
   * Target encoded size of a tree node in bytes, 512 to 65536 (DatabaseOptions.pageSize). Default
   * 16384. Only the shape of nodes written from now on depends on it: a store may be
   * reopened with another size.
   */
  pageSize?: number;
  /**
   * Crash recovery always runs on open. With autoRecovery (default true), a shard found corrupt at
   * open is also repaired: intact records are salvaged and the damaged files kept aside.
   */
  autoRecovery?: boolean;
  /**
   * Checksums are always checked on every read. With checksumVerification (default true), every shard
   * is also fully verified when the store opens, and health() reports the result.
   */
  checksumVerification?: boolean;
  /**
   * On close, compact a shard whose page file is mostly free space, or trim one that is at least a
   * tenth free (blocks past its live size move into holes, then the file is truncated). Default true.
   */
  compactOnClose?: boolean;
  /**
   * Open an existing store for reading only, beside a process that may be writing it: no lock, no
   * byte written, every shard a snapshot of its latest checkpoint plus its WAL; write and maintenance
   * calls throw ReadOnlyError. See DatabaseOptions.readOnly and docs/operations.md. Default false.
   */
  readOnly?: boolean;
  /** File-system implementation (tests pass a fault-injecting one). */
  io?: FileIO;
}

/** RedbOptions with defaults applied. */
export interface ResolvedRedbOptions {
  baseDir: string;
  shardingEnabled: boolean;
  shardCount: number;
  compression: CompressionKind;
  compressionLevel: number;
  compressionThreads: number;
  encryptionEnabled: boolean;
  encryptionKey: KeySource | null;
  previousEncryptionKeys: KeySource[];
  dedupEnabled: boolean;
  dedupThreshold: number;
  checkpointIntervalMs: number;
  checkpointWalBytes: number;
  walSegmentBytes: number;
  durability: Durability;
  cacheSizeBytes: number;
  memtableBytes: number;
  pageSize: number;
  autoRecovery: boolean;
  checksumVerification: boolean;
  compactOnClose: boolean;
  readOnly: boolean;
  io: FileIO | undefined;
}

const KNOWN = [
  'baseDir',
  'shardingEnabled',
  'shardCount',
  'compression',
  'compressionLevel',
  'compressionThreads',
  'encryptionEnabled',
  'encryptionKey',
  'previousEncryptionKeys',
  'dedupEnabled',
  'dedupThreshold',
  'checkpointIntervalMs',
  'checkpointWalBytes',
  'walSegmentBytes',
  'durability',
  'cacheSizeBytes',
  'memtableBytes',
  'pageSize',
  'autoRecovery',
  'checksumVerification',
  'compactOnClose',
  'readOnly',
  'io',
];

function bool(o: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const v = o[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ValidationError(`option ${name} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Applies defaults and checks every option; throws ValidationError naming the option and its range. */
export function resolveRedbOptions(options: RedbOptions | undefined): ResolvedRedbOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ValidationError('RedbOptions must be an object');
  }
  const o = (options ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.includes(k)) throw new ValidationError(`unknown option ${k}; the options are ${KNOWN.join(', ')}`);
  const baseDir = o.baseDir ?? 'redb-data';
  if (typeof baseDir !== 'string' || baseDir.length === 0) throw new ValidationError('option baseDir must be a non-empty directory path');
  const shardingEnabled = bool(o, 'shardingEnabled', false);
  let shardCount = 1;
  if (o.shardCount !== undefined) {
    const n = o.shardCount;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 256) throw new ValidationError(`option shardCount must be an integer from 1 to 256, got ${JSON.stringify(n)}`);
    if (!shardingEnabled && n !== 1) throw new ValidationError(`option shardCount is ${n} but shardingEnabled is false; set shardingEnabled: true to use several shards`);
    shardCount = n;
  } else if (shardingEnabled) {
    shardCount = 4;
  }
  // The shard-level options share names, ranges and messages with Database.open: checked there.
  const shard = resolveSettings({
    compression: o.compression,
    compressionLevel: o.compressionLevel,
    compressionThreads: o.compressionThreads,
    encryptionEnabled: o.encryptionEnabled,
    encryptionKey: o.encryptionKey,
    previousEncryptionKeys: o.previousEncryptionKeys,
    dedupEnabled: o.dedupEnabled,
    dedupThreshold: o.dedupThreshold,
    checkpointIntervalMs: o.checkpointIntervalMs,
    checkpointWalBytes: o.checkpointWalBytes,
    walSegmentBytes: o.walSegmentBytes,
    durability: o.durability,
    cacheSizeBytes: o.cacheSizeBytes,
    memtableBytes: o.memtableBytes,
    pageSize: o.pageSize,
    compactOnClose: o.compactOnClose,
    readOnly: o.readOnly,
  });
  return {
    baseDir: path.resolve(baseDir),
    shardingEnabled,
    shardCount,
    compression: shard.compression,
    compressionLevel: shard.compressionLevel,
    compressionThreads: shard.compressionThreads,
    encryptionEnabled: shard.encryption !== null,
    encryptionKey: shard.encryption?.key ?? null,
    previousEncryptionKeys: (o.previousEncryptionKeys as KeySource[] | undefined) ?? [],
    dedupEnabled: shard.dedupEnabled,
    dedupThreshold: shard.dedupThreshold,
    checkpointIntervalMs: shard.checkpointIntervalMs,
    checkpointWalBytes: shard.checkpointWalBytes,
    walSegmentBytes: shard.walSegmentBytes,
    durability: shard.durability,
    cacheSizeBytes: shard.cacheSizeBytes,
    memtableBytes: shard.memtableBytes,
    pageSize: shard.pageSize,
    autoRecovery: bool(o, 'autoRecovery', true),
    checksumVerification: bool(o, 'checksumVerification', true),
    compactOnClose: shard.compactOnClose,
    readOnly: shard.readOnly,
    io: o.io as FileIO | undefined,
  };
}

/** The resolved options each shard is opened with: the store's, with its share of the memory budgets. */
export function shardOptions(o: ResolvedRedbOptions): ResolvedDatabaseOptions {
  const shared = resolveSettings({});
  return {
    ...shared,
    compression: o.compression,
    compressionLevel: o.compressionLevel,
    compressionThreads: o.compressionThreads,
    encryption: o.encryptionEnabled ? { key: o.encryptionKey!, previousKeys: o.previousEncryptionKeys } : null,
    dedupEnabled: o.dedupEnabled,
    dedupThreshold: o.dedupThreshold,
    durability: o.durability,
    pageSize: o.pageSize,
    cacheSizeBytes: Math.max(1 << 20, Math.floor(o.cacheSizeBytes / o.shardCount)),
    checkpointWalBytes: o.checkpointWalBytes,
    checkpointIntervalMs: o.checkpointIntervalMs,
    memtableBytes: Math.max(64 << 10, Math.floor(o.memtableBytes / o.shardCount)),
    walSegmentBytes: o.walSegmentBytes,
    groupCommitWindowMs: SHARD_DEFAULTS.groupCommitWindowMs,
    compactOnClose: o.compactOnClose,
    readOnly: o.readOnly,
    io: o.io ?? nodeFileIO,
  };
}

/** True when two option sets describe the same store configuration (for the singleton's re-init). */
export function sameOptions(a: ResolvedRedbOptions, b: ResolvedRedbOptions): boolean {
  const { encryptionKey: ka, previousEncryptionKeys: pa, io: ia, ...ra } = a;
  const { encryptionKey: kb, previousEncryptionKeys: pb, io: ib, ...rb } = b;
  return JSON.stringify(ra) === JSON.stringify(rb) && sameKey(ka, kb) && pa.length === pb.length && ia === ib;
}

function sameKey(a: KeySource | null, b: KeySource | null): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  return JSON.stringify(a) === JSON.stringify(b);
}
