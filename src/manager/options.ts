/**
 * RedbOptions: the store-wide settings, in the vocabulary of the ForgeOne guides (base_dir,
 * encryption_enabled, sharding_enabled, shard_count, compression_level, ... in TypeScript casing),
 * their defaults, their validation, and the per-shard DatabaseOptions they imply.
 */
import path from 'node:path';
import { ValidationError } from '../errors.js';
import type { CompressionKind } from '../codec/compression.js';
import type { KeySource } from '../codec/key-source.js';
import type { FileIO } from '../io/file-io.js';
import { resolveDatabaseOptions, type DatabaseOptions, type Durability } from '../shard/options.js';

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
  /** Checkpoint after this many WAL bytes. Default 64 MiB. */
  checkpointWalBytes?: number;
  /** WAL segment size (log rotation). Default 16 MiB. */
  walSegmentBytes?: number;
  /** `'immediate'` (default), `'group'` or `'none'`; see DatabaseOptions. */
  durability?: Durability;
  /** Memory for decoded tree nodes across all shards. Default 256 MiB. */
  cacheSizeBytes?: number;
  /**
   * Memory for commits not yet folded into the trees (the memtables) across all shards; a shard
   * checkpoints when its share is full. Default 64 MiB.
   */
  memtableBytes?: number;
  /**
   * Target encoded size of a tree node in bytes, 512 to 65536 (DatabaseOptions.pageSize). Default
   * 4096; the audit store opens its shards with 8192 unless given, since its leaves compress better
   * in larger pages. Only the shape of nodes written from now on depends on it: a store may be
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
  /** Compact a shard on close when most of its page file is free space. Default true. */
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
  const encryptionEnabled = bool(o, 'encryptionEnabled', false);
  if (encryptionEnabled && o.encryptionKey === undefined) {
    throw new ValidationError('option encryptionEnabled is true but no encryptionKey is given (a 32-byte key, { file }, { env } or { passphrase })');
  }
  if (!encryptionEnabled && o.encryptionKey !== undefined) {
    throw new ValidationError('option encryptionKey is given but encryptionEnabled is false; set encryptionEnabled: true to encrypt');
  }
  if (o.previousEncryptionKeys !== undefined && !Array.isArray(o.previousEncryptionKeys)) throw new ValidationError('option previousEncryptionKeys must be an array of keys');
  const resolved: ResolvedRedbOptions = {
    baseDir: path.resolve(baseDir),
    shardingEnabled,
    shardCount,
    compression: 'zstd',
    compressionLevel: 3,
    encryptionEnabled,
    encryptionKey: (o.encryptionKey as KeySource | undefined) ?? null,
    previousEncryptionKeys: (o.previousEncryptionKeys as KeySource[] | undefined) ?? [],
    dedupEnabled: bool(o, 'dedupEnabled', true),
    dedupThreshold: 1024,
    checkpointIntervalMs: 60_000,
    checkpointWalBytes: 64 << 20,
    walSegmentBytes: 16 << 20,
    durability: 'immediate',
    cacheSizeBytes: 256 << 20,
    memtableBytes: 64 << 20,
    pageSize: 4096,
    autoRecovery: bool(o, 'autoRecovery', true),
    checksumVerification: bool(o, 'checksumVerification', true),
    compactOnClose: bool(o, 'compactOnClose', true),
    readOnly: bool(o, 'readOnly', false),
    io: o.io as FileIO | undefined,
  };
  // The shard-level options share names and ranges: let their validation speak for them.
  const shard = resolveDatabaseOptions({
    compression: o.compression as CompressionKind | undefined,
    compressionLevel: o.compressionLevel as number | undefined,
    dedupThreshold: o.dedupThreshold as number | undefined,
    checkpointIntervalMs: o.checkpointIntervalMs as number | undefined,
    checkpointWalBytes: o.checkpointWalBytes as number | undefined,
    walSegmentBytes: o.walSegmentBytes as number | undefined,
    durability: o.durability as Durability | undefined,
    cacheSizeBytes: o.cacheSizeBytes as number | undefined,
    memtableBytes: o.memtableBytes as number | undefined,
    pageSize: o.pageSize as number | undefined,
  });
  resolved.compression = shard.compression;
  resolved.compressionLevel = shard.compressionLevel;
  resolved.dedupThreshold = shard.dedupThreshold;
  resolved.checkpointIntervalMs = shard.checkpointIntervalMs;
  resolved.checkpointWalBytes = shard.checkpointWalBytes;
  resolved.walSegmentBytes = shard.walSegmentBytes;
  resolved.durability = shard.durability;
  resolved.cacheSizeBytes = shard.cacheSizeBytes;
  resolved.memtableBytes = shard.memtableBytes;
  resolved.pageSize = shard.pageSize;
  return resolved;
}

/** The options each shard is opened with. */
export function shardOptions(o: ResolvedRedbOptions): DatabaseOptions {
  return {
    compression: o.compression,
    compressionLevel: o.compressionLevel,
    dedup: o.dedupEnabled,
    dedupThreshold: o.dedupThreshold,
    checkpointIntervalMs: o.checkpointIntervalMs,
    checkpointWalBytes: o.checkpointWalBytes,
    walSegmentBytes: o.walSegmentBytes,
    durability: o.durability,
    cacheSizeBytes: Math.max(1 << 20, Math.floor(o.cacheSizeBytes / o.shardCount)),
    memtableBytes: Math.max(64 << 10, Math.floor(o.memtableBytes / o.shardCount)),
    pageSize: o.pageSize,
    compactOnClose: o.compactOnClose,
    readOnly: o.readOnly,
    ...(o.encryptionEnabled ? { encryption: { key: o.encryptionKey!, previousKeys: o.previousEncryptionKeys } } : {}),
    ...(o.io ? { io: o.io } : {}),
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
