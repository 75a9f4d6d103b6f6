/**
 * verifyBackup: is this backup, with every base it needs, complete and unchanged, and does it hold
 * everything a restore will ask of it? Reports every problem rather than stopping at the first:
 * - the manifest and every base's manifest are intact (their checksums), and each base is the one
 *   its successor was taken on (the BLAKE3 of its manifest file);
 * - every file every link of the chain lists exists with its size and BLAKE3 digest;
 * - every listed block (each shard's index expanded over its bases, backup-listing.ts) is
 *   resolvable: its bytes lie in the blocks file of a backup of the chain and start with the header
 *   the listing records; the blocks lie inside the shard's file, do not overlap, and include the
 *   checkpoint's catalog and freelist.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BLOCK_ALIGN, BLOCK_HEADER_SIZE, BlockKind, HEADER_SIZE } from '../shard/backup-source.js';
import { readU16, readU32, readU64 } from '../util/binary.js';
import { loadBackupChain } from './backup-chain.js';
import type { IndexEntry } from './backup-index.js';
import { loadListing } from './backup-listing.js';
import { shardBlocksFile, shardIndexFile, STORE_MANIFEST_COPY, type BackupShardEntry, type LoadedManifest, type RefJson } from './backup-manifest.js';
import { fileDigest } from '../blob/file-digest.js';

/** The result of RedbManager.verifyBackup: `ok` when no issue was found. */
export interface BackupVerifyReport {
  ok: boolean;
  issues: string[];
  /** The backup directory and its bases, newest first (as far as they were found). */
  chain: string[];
  /** Each shard's transaction (what a restore brings back), or [] when the manifest is unusable. */
  shards: { shard: number; txn: number; blocks: number; bytes: number }[];
  /** Files digested, and their total size. */
  filesChecked: number;
  bytesChecked: number;
  durationMs: number;
}

/** Issues reported per shard index before the rest are only counted. */
const MAX_ENTRY_ISSUES = 20;

export function verifyBackupDir(dir: string): BackupVerifyReport {
  const started = performance.now();
  const chain = loadBackupChain(dir);
  const issues = [...chain.issues];
  let filesChecked = 0;
  let bytesChecked = 0;
  for (const link of chain.links) {
    for (const f of link.manifest.files) {
      const file = path.join(link.dir, f.name);
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        issues.push(`${file} is missing`);
        continue;
      }
      filesChecked++;
      bytesChecked += size;
      if (size !== f.bytes) issues.push(`${file} is ${size} bytes, the manifest says ${f.bytes}`);
      else if (fileDigest(file) !== f.blake3) issues.push(`${file} does not match its BLAKE3 digest (its contents changed)`);
    }
  }
  const head = chain.links[0];
  if (head) {
    checkStoreManifest(head, issues);
    head.manifest.shards.forEach((s, i) => checkShardIndex(chain.links, s, i, issues));
  }
  return {
    ok: issues.length === 0,
    issues,
    chain: chain.links.map((l) => l.dir),
    shards: head ? head.manifest.shards.map((s, i) => ({ shard: i, txn: s.txn, blocks: s.blocks, bytes: s.bytes })) : [],
    filesChecked,
    bytesChecked,
    durationMs: performance.now() - started,
  };
}

function checkStoreManifest(head: LoadedManifest, issues: string[]): void {
  const file = path.join(head.dir, STORE_MANIFEST_COPY);
  if (!head.manifest.files.some((f) => f.name === STORE_MANIFEST_COPY)) issues.push(`the manifest of ${head.dir} does not list ${STORE_MANIFEST_COPY}`);
  try {
    const store = JSON.parse(fs.readFileSync(file, 'utf8')) as { shardCount?: unknown };
    if (store.shardCount !== head.manifest.shardCount) issues.push(`${file} describes ${String(store.shardCount)} shards, the backup holds ${head.manifest.shardCount}`);
  } catch (err) {
    issues.push(`${file} is not a readable store manifest (${(err as Error).message})`);
  }
}

/** Opens each link's blocks file of one shard on demand; closes them all at the end. */
class BlockSources {
  private readonly fds = new Map<number, number | null>();

  constructor(
    private readonly links: LoadedManifest[],
    private readonly shard: number,
  ) {}

  /** Reads `length` bytes at `position` of link `source`'s blocks file; null when unavailable. */
  read(source: number, position: number, length: number): Uint8Array | null {
    let fd = this.fds.get(source);
    if (fd === undefined) {
      const link = this.links[source];
      try {
        fd = link ? fs.openSync(path.join(link.dir, shardBlocksFile(this.shard)), 'r') : null;
      } catch {
        fd = null;
      }
      this.fds.set(source, fd);
    }
    if (fd === null) return null;
    const buf = new Uint8Array(length);
    return fs.readSync(fd, buf, 0, length, position) === length ? buf : null;
  }

  close(): void {
    for (const fd of this.fds.values()) if (fd !== null) fs.closeSync(fd);
  }
}

function checkShardIndex(links: LoadedManifest[], s: BackupShardEntry, shard: number, issues: string[]): void {
  const head = links[0]!;
  const name = path.join(head.dir, shardIndexFile(shard));
  if (s.index !== shard) issues.push(`the manifest of ${head.dir} lists shard ${s.index} in place ${shard}`);
  const listing = loadListing(links, shard);
  if (typeof listing === 'string') {
    issues.push(listing);
    return;
  }
  const found: string[] = [];
  const sources = new BlockSources(links, shard);
  const blocksName = shardBlocksFile(shard);
  const extents: { offset: number; end: number }[] = [];
  const isRef = (ref: RefJson | null, kind: number, e: IndexEntry): boolean =>
    ref !== null && ref.offset === e.offset && ref.length === e.length && ref.crc === e.crc && e.kind === kind;
  let catalog = false;
  let freelist = false;
  let bytes = 0;
  try {
    for (let i = 0; i < listing.count; i++) {
      const e = listing.entry(i);
      const where = `listed block ${i} (offset ${e.offset})`;
      bytes += e.length;
      extents.push({ offset: e.offset, end: e.offset + e.length });
      catalog ||= isRef(s.slot.catalog, BlockKind.Catalog, e);
      freelist ||= isRef(s.slot.freelist, BlockKind.Freelist, e);
      if (e.offset < HEADER_SIZE || e.offset % BLOCK_ALIGN !== 0 || e.length < BLOCK_ALIGN || e.length % BLOCK_ALIGN !== 0 || e.offset + e.length > s.slot.fileEnd) {
        found.push(`${where}: its ${e.length} bytes lie outside the shard's blocks [${HEADER_SIZE}, ${s.slot.fileEnd})`);
      }
      if (e.subtree < 1 || i + e.subtree > listing.count) found.push(`${where}: its subtree of ${e.subtree} entries runs past the listing`);
      // Resolvable: the source's blocks file holds, at the position given, a block with this header.
      const source = links[e.source]!;
      const size = source.manifest.files.find((f) => f.name === blocksName)?.bytes ?? 0;
      const header = e.position + e.length <= size ? sources.read(e.source, e.position, BLOCK_HEADER_SIZE) : null;
      if (!header) found.push(`${where} is not in ${path.join(source.dir, blocksName)}`);
      else if (readU32(header, 12) !== e.crc || readU64(header, 16) !== e.txn || header[0] !== e.kind || header[1] !== e.flags || readU16(header, 2) !== e.keyId) {
        found.push(`${where}: ${path.join(source.dir, blocksName)} holds another block at position ${e.position}`);
      }
    }
  } finally {
    sources.close();
  }
  extents.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < extents.length; i++) {
    if (extents[i]!.offset < extents[i - 1]!.end) found.push(`two blocks overlap at offset ${extents[i]!.offset}`);
  }
  if (s.slot.catalog && !catalog) found.push(`the checkpoint's catalog block (offset ${s.slot.catalog.offset}) is not listed`);
  if (s.slot.freelist && !freelist) found.push(`the checkpoint's freelist block (offset ${s.slot.freelist.offset}) is not listed`);
  if (listing.count !== s.blocks || bytes !== s.bytes) found.push(`the index lists ${listing.count} blocks of ${bytes} bytes, the manifest says ${s.blocks} of ${s.bytes}`);
  for (const f of found.slice(0, MAX_ENTRY_ISSUES)) issues.push(`${name}: ${f}`);
  if (found.length > MAX_ENTRY_ISSUES) issues.push(`${name}: ... and ${found.length - MAX_ENTRY_ISSUES} more issues`);
}
