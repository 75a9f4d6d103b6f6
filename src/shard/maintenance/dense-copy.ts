/**
 * Copies a version's tables, densely, into a new page file: every tree rebuilt bottom-up with full
 * nodes, every out-of-line value rewritten next to them, then the catalog and an empty freelist. The
 * copy is a generator that yields every few milliseconds of work, so compaction can run it to the end
 * at once and a snapshot can let writes run in between (the version it copies is immutable). Leaves
 * are sized from the data's measured compression, like a checkpoint's.
 */
import { TreeBuilder } from '../../btree/bulk-build.js';
import { TreeCursor } from '../../btree/cursor.js';
import { keyAt, valuePartAt, valueTagAt } from '../../btree/leaf.js';
import { ValueTag } from '../../btree/node.js';
import type { PageCodec } from '../../codec/page-codec.js';
import { ExtentAllocator } from '../../pagefile/allocator.js';
import { prepareBlock, sealBlock } from '../../pagefile/block.js';
import { encodeFreelist } from '../../pagefile/freelist-codec.js';
import { BlockKind, HEADER_SIZE, type BlockKindValue, type BlockRef } from '../../pagefile/layout.js';
import type { PageFile } from '../../pagefile/page-file.js';
import { encodeCatalog, type StoredTable } from '../data/catalog.js';
import type { Version } from '../data/version.js';
import type { TxSettings } from '../txn/write-txn.js';

/** Where a dense copy put things. */
export interface DenseCopy {
  roots: Map<string, BlockRef | null>;
  catalog: BlockRef;
  freelist: BlockRef;
  fileEnd: number;
  entries: number;
}

const FLUSH_BYTES = 8 << 20;
/** A copy yields after about this much work, so that writers interleaving with it stay responsive. */
const SLICE_MS = 8;

/** Appends blocks to a new file front to back. */
class SequentialWriter {
  readonly allocator = new ExtentAllocator(HEADER_SIZE);
  private queue: { offset: number; bytes: Uint8Array }[] = [];
  private queued = 0;

  constructor(
    private readonly file: PageFile,
    private readonly codec: PageCodec,
    private readonly txn: number,
  ) {}

  write(kind: BlockKindValue, payload: Uint8Array): BlockRef {
    const prepared = prepareBlock(kind, payload, this.codec);
    const offset = this.allocator.allocateAtEnd(prepared.extentLength);
    const { bytes, ref } = sealBlock(prepared, offset, this.txn, this.codec);
    this.queue.push({ offset, bytes });
    this.queued += bytes.length;
    if (this.queued >= FLUSH_BYTES) this.flush();
    return ref;
  }

  flush(): void {
    if (this.queue.length === 0) return;
    this.file.writeExtents(this.queue);
    this.queue = [];
    this.queued = 0;
  }
}

/** Writes every table of `version` into `file` (fresh, header slots only), sealed with `codec`. */
export function* copyDense(version: Version, file: PageFile, codec: PageCodec, settings: TxSettings, txn: number): Generator<void, DenseCopy> {
  const w = new SequentialWriter(file, codec, txn);
  const stored: StoredTable[] = [];
  const roots = new Map<string, BlockRef | null>();
  let entries = 0;
  let sliceStart = performance.now();
  for (const t of version.tables.values()) {
    const builder = new TreeBuilder(settings.maxLeafSize, settings.maxNodeSize, (kind, payload) => w.write(kind === 'leaf' ? BlockKind.Leaf : BlockKind.Branch, payload));
    const cursor = new TreeCursor(t.root, version.store);
    for (let ok = cursor.seekForward(null, false); ok; ok = cursor.next()) {
      const leaf = cursor.leafNode;
      const i = cursor.leafIndex;
      if (valueTagAt(leaf, i) === ValueTag.OutOfLine) {
        // The value's block moves with everything else into the new file.
        const bytes = version.store.valueAt(leaf, i);
        builder.addStored(keyAt(leaf, i), w.write(BlockKind.Value, bytes), bytes.length);
      } else {
        builder.addRaw(keyAt(leaf, i), valuePartAt(leaf, i));
      }
      if (++entries % 256 === 0 && performance.now() - sliceStart > SLICE_MS) {
        yield;
        sliceStart = performance.now();
      }
    }
    const root = builder.finish();
    roots.set(t.name, root);
    stored.push({ name: t.name, count: t.count, root });
  }
  stored.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const catalog = w.write(BlockKind.Catalog, encodeCatalog(stored));
  const freelist = w.write(BlockKind.Freelist, encodeFreelist([]));
  w.flush();
  return { roots, catalog, freelist, fileEnd: w.allocator.end, entries };
}

/** Runs a copy to its end without yielding to the event loop. */
export function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs a copy, letting the event loop (and so other writers) run between its steps. */
export async function runInterleaved<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
