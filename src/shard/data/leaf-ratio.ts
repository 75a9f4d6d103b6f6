/**
 * How well a store's leaves compress (raw bytes per stored byte). It sizes leaves: a leaf may grow to
 * about a page times this ratio, so that compressed it fills about a page on disk instead of half of
 * one. Only sizing depends on it, so an estimate is enough, but a poor one costs: a fresh store that
 * assumed 1 while its leaves compressed 1.6x held 65% more leaves after a 300k-entry load, and cold
 * point reads, which load one leaf each, ran 25% slower.
 *
 * Sources, best first: leaves a checkpoint stored; a sample of the leaves at open or compaction; and,
 * while neither has seen enough bytes, the WAL records of large commits, which hold the same keys and
 * values and are compressed the same way.
 */
import type { BranchNode } from '../../btree/node.js';
import type { NodeStore } from '../../btree/node-store.js';
import { childAt } from '../../btree/search.js';
import type { PageCodec } from '../../codec/page-codec.js';
import type { TableState } from './catalog.js';

/** Raw bytes a measurement must cover before it is trusted over the sources after it. */
const TRUSTED_BYTES = 64 * 1024;
/** WAL records shorter than this are stored uncompressed (wal-writer.ts), so they say nothing. */
const MIN_RECORD_SAMPLE = 1024;

export class LeafRatio {
  private recordRaw = 0;
  private recordStored = 0;

  constructor(
    /** The current estimate; 1 while nothing is known. */
    public value: number,
    /** Raw leaf bytes the estimate rests on. */
    private basis: number,
  ) {}

  /** A sample of a store's leaves: the first leaves of its largest tables, up to 16. */
  static sample(tables: ReadonlyMap<string, TableState>, store: NodeStore, codec: PageCodec): LeafRatio {
    let raw = 0;
    let packed = 0;
    let sampled = 0;
    for (const t of [...tables.values()].sort((a, b) => b.count - a.count)) {
      if (!t.root || sampled >= 16) continue;
      // Descend to the first leaf below each of the root's first children: up to 16, so that a two-level
      // tree alone gives a trusted sample (8 leaves of a few KiB did not, and the WAL records of a run
      // of deletions, keys alone, then set the ratio near 1 and halved the leaves a fold wrote).
      const starts = t.root.isLeaf ? [t.root] : t.root.kids.slice(0, 16).map((_, i) => childAt(t.root as BranchNode, i, store));
      for (let node of starts) {
        while (!node.isLeaf) node = childAt(node, 0, store);
        raw += node.size;
        packed += codec.compress(node.data.subarray(0, node.size)).data.length;
        if (++sampled >= 16) break;
      }
    }
    return packed > 0 ? new LeafRatio(raw / packed, raw) : new LeafRatio(1, 0);
  }

  /** A checkpoint stored `raw` bytes of leaves in `packed` bytes. */
  stored(raw: number, packed: number): void {
    if (raw < TRUSTED_BYTES || packed === 0) return;
    // Average with a trusted estimate, so that one unusual checkpoint does not swing leaf sizes.
    this.value = this.basis >= TRUSTED_BYTES ? (this.value + raw / packed) / 2 : raw / packed;
    this.basis = Math.max(this.basis, raw);
  }

  /** A WAL record of `raw` bytes was stored in `stored` bytes; heeded until leaves are measured. */
  logged(raw: number, stored: number): void {
    if (this.basis >= TRUSTED_BYTES || raw < MIN_RECORD_SAMPLE) return;
    this.recordRaw += raw;
    this.recordStored += stored;
    if (this.recordRaw >= TRUSTED_BYTES) {
      this.value = this.recordRaw / this.recordStored;
      this.basis = this.recordRaw;
    }
  }
}
