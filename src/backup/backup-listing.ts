/**
 * A shard's listing in a backup: every block its checkpoint reaches, in walk order (pre-order), each
 * with the chain link whose blocks file holds its bytes (0 the backup itself, k its k-th base). It is
 * what a restore writes back and what the next incremental backup looks blocks up in.
 *
 * An index file holds block entries and ranges of its base's listing (backup-index.ts), so the
 * listing of link 0 is built from the deepest link that is needed upwards: each link's listing is its
 * own entries with every range replaced by that slice of its base's listing, one link further back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { blake3 } from '../blob/blake3.js';
import { readU16, readU32, writeU16 } from '../util/binary.js';
import { INDEX_ENTRY_SIZE, IndexView, RANGE_KIND, readEntry, writeEntry, type IndexEntry } from './backup-index.js';
import { shardIndexFile, type LoadedManifest } from './backup-manifest.js';

export class BlockListing {
  constructor(
    private readonly bytes: Uint8Array,
    readonly count: number,
  ) {}

  /** Entry i; `source` is the chain link holding the block's bytes. */
  entry(i: number): IndexEntry {
    return readEntry(this.bytes, i * INDEX_ENTRY_SIZE);
  }

  /** Extent length of entry i, without decoding the rest. */
  length(i: number): number {
    return readU32(this.bytes, i * INDEX_ENTRY_SIZE + 8);
  }

  /** Entries [start, start + n) as stored (48 bytes each). */
  slice(start: number, n: number): Uint8Array {
    return this.bytes.subarray(start * INDEX_ENTRY_SIZE, (start + n) * INDEX_ENTRY_SIZE);
  }
}

/** Expands one link's index over its base's listing (null when it has none). */
function expand(view: IndexView, below: BlockListing | null, where: string): BlockListing | string {
  const bytes = new Uint8Array(view.listed * INDEX_ENTRY_SIZE);
  let n = 0;
  for (let i = 0; i < view.count; i++) {
    const e = view.entry(i);
    if (e.kind !== RANGE_KIND) {
      if (e.source !== 0 || n >= view.listed) return `${where}: entry ${i} is malformed (a block entry with a source, or more blocks than announced)`;
      writeEntry(bytes, n++ * INDEX_ENTRY_SIZE, e);
      continue;
    }
    if (!below) return `${where}: entry ${i} takes blocks from a base backup, but there is none`;
    if (e.source !== 1 || e.subtree < 1 || e.position + e.subtree > below.count || n + e.subtree > view.listed) {
      return `${where}: entry ${i} takes base entries [${e.position}, ${e.position + e.subtree}), past the base's ${below.count} or this index's ${view.listed}`;
    }
    bytes.set(below.slice(e.position, e.subtree), n * INDEX_ENTRY_SIZE);
    // One link further back from here than from the base.
    for (let k = n; k < n + e.subtree; k++) writeU16(bytes, k * INDEX_ENTRY_SIZE + 28, readU16(bytes, k * INDEX_ENTRY_SIZE + 28) + 1);
    n += e.subtree;
  }
  if (n !== view.listed) return `${where}: the entries expand to ${n} blocks, the header announces ${view.listed}`;
  return new BlockListing(bytes, n);
}

/**
 * Reads shard `shard`'s index from each link of `links` that the listing needs (checking each file
 * against its link's manifest digest) and builds the listing of link 0. A reason string when a file
 * is missing, damaged or inconsistent.
 */
export function loadListing(links: readonly LoadedManifest[], shard: number): BlockListing | string {
  const views: IndexView[] = [];
  for (const link of links) {
    const name = shardIndexFile(shard);
    const file = path.join(link.dir, name);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      return `${file} cannot be read (${(err as Error).message})`;
    }
    const listed = link.manifest.files.find((f) => f.name === name);
    if (!listed || Buffer.from(blake3(bytes)).toString('hex') !== listed.blake3) return `${file} does not match its BLAKE3 digest in the manifest`;
    const view = IndexView.parse(bytes);
    if (typeof view === 'string') return `${file}: ${view}`;
    if (view.databaseId !== link.manifest.shards[shard]?.slot.databaseId) return `${file} belongs to another database than the manifest names`;
    views.push(view);
    // A link that takes nothing from its base ends what the listing needs.
    let ranges = false;
    for (let i = 0; i < view.count && !ranges; i++) ranges = view.entry(i).kind === RANGE_KIND;
    if (!ranges) break;
  }
  let below: BlockListing | null = null;
  for (let k = views.length - 1; k >= 0; k--) {
    const r = expand(views[k]!, below, path.join(links[k]!.dir, shardIndexFile(shard)));
    if (typeof r === 'string') return r;
    below = r;
  }
  return below!;
}
