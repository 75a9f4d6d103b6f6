/**
 * The mutable state of an open shard, shared by the modules that implement its operations
 * (checkpoint, verify, compact, recovery). Only the Database class hands it out.
 */
import type { CacheBudget } from '../btree/node-cache.js';
import type { NodeStore } from '../btree/node-store.js';
import type { KeyRingEntry } from '../codec/key-ring.js';
import type { StoreCodec } from '../codec/store-codec.js';
import type { FileIO } from '../io/file-io.js';
import type { HeaderSlot } from '../pagefile/header-slot.js';
import type { PageFile } from '../pagefile/page-file.js';
import type { WalWriter } from '../wal/wal-writer.js';
import type { FreeSpace } from './durability/free-space.js';
import type { LeafRatio } from './data/leaf-ratio.js';
import type { ResolvedDatabaseOptions } from './options.js';
import type { ReaderRegistry } from './txn/reader-registry.js';
import type { Version } from './data/version.js';
import type { TxSettings } from './txn/write-txn.js';

/** The two header slots as this process knows them. */
export interface SlotState {
  /** Index of the slot open used, or the last checkpoint wrote. */
  activeIndex: 0 | 1;
  active: HeaderSlot;
  /** The other slot, when valid: the fallback a torn write of the next checkpoint would leave. */
  other: HeaderSlot | null;
}

/** Counters reported by stats() and metrics. */
export interface ShardCounters {
  commits: number;
  checkpoints: number;
  checkpointMsTotal: number;
  lastCheckpointAt: number | null;
  lastCheckpointError: Error | null;
  blockBytesWritten: number;
  compactions: number;
  /** The txn a checkpoint working between commits is storing; null when none is. */
  checkpointRunningTxn: number | null;
}

/** Leaves may grow until they compress to about a page, up to this many pages uncompressed. */
const MAX_LEAF_PAGES = 4;

/** How transactions shape what they write, given the options and the leaves' compression ratio. */
export function txSettingsFor(options: ResolvedDatabaseOptions, leafRatio: number): TxSettings {
  const pageSize = options.pageSize;
  return {
    maxNodeSize: pageSize,
    maxLeafSize: Math.round(pageSize * Math.min(MAX_LEAF_PAGES, Math.max(1, leafRatio))),
    inlineMax: Math.floor(pageSize / 4),
    dedupThreshold: options.dedupEnabled ? options.dedupThreshold : Infinity,
  };
}

/** How transactions of this shard shape what they write. */
export function txSettings(core: ShardCore): TxSettings {
  return txSettingsFor(core.options, core.leafRatio.value);
}

/** The header-slot fields that describe the store's keys. */
export function keyFields(core: ShardCore): { keyId: number; keyRing: KeyRingEntry[] } {
  const ring = core.codec.keyRing;
  return { keyId: ring?.currentId ?? 0, keyRing: ring ? [...ring.entries] : [] };
}

export interface ShardCore {
  readonly dir: string;
  readonly walDir: string;
  readonly dataPath: string;
  readonly io: FileIO;
  readonly options: ResolvedDatabaseOptions;
  readonly codec: StoreCodec;
  /** The key ring changed since the newest slot was written (a rotation): checkpoint before sealing. */
  ringChanged: boolean;
  readonly budget: CacheBudget;
  readonly databaseId: number;
  /** Raw bytes per stored byte of leaves: how large leaves may grow. */
  leafRatio: LeafRatio;
  file: PageFile;
  store: NodeStore;
  space: FreeSpace;
  wal: WalWriter;
  /** Newest committed version; writers build on it. It may not be durable yet (group commit). */
  latest: Version;
  /** Newest durable version; new snapshots read it. */
  durable: Version;
  slots: SlotState;
  /**
   * Whether every block the other slot reaches is known intact: true after a checkpoint of this
   * process completed (it wrote only into the older slot's free space). False after open, and while
   * or after a checkpoint fails: a checkpoint cut short may already have reused blocks that only the
   * other slot reached (the newest freelist lists them), so damage there is not evidence of anything.
   */
  fallbackIntact: boolean;
  readers: ReaderRegistry;
  /** WAL bytes written when the last checkpoint was taken. */
  walBytesAtCheckpoint: number;
  counters: ShardCounters;
}
