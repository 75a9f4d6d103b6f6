/**
 * Atomic snapshots: `db.snapshotTo(dir)` writes a consistent copy of one committed version into a new
 * directory while writes go on, and `Database.verifySnapshot(dir)` checks it.
 *
 * The copy is a dense rebuild of a pinned snapshot (see dense-copy.ts) into `data.redb.init`, with
 * both header slots naming the snapshot's transaction and no WAL needed, renamed to `data.redb`. Then
 * `manifest.json` is written (through a temporary file and a rename): the snapshot exists once the
 * manifest does. The result is a normal shard directory that `Database.open` opens. It is sealed
 * under the current key only, so opening it needs just that key.
 *
 * manifest.json: { format: "redb-audit-snapshot", version: 1, txn, createdAt, files: [{ name,
 * bytes, blake3 }] } where blake3 is the hex BLAKE3 digest of the whole file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ioError, ValidationError } from '../../errors.js';
import type { FileIO } from '../../io/file-io.js';
import { fileDigest } from '../../blob/file-digest.js';
import { StoreCodec } from '../../codec/store-codec.js';
import { PageFile } from '../../pagefile/page-file.js';
import { txSettingsFor, type ShardCore } from '../core.js';
import { copyDense, runInterleaved } from './dense-copy.js';
import { LeafRatio } from '../data/leaf-ratio.js';
import { DATA_FILE, emptyStoreSlot } from '../durability/open-shard.js';
import type { Version } from '../data/version.js';

export const MANIFEST_FILE = 'manifest.json';
const MANIFEST_FORMAT = 'redb-audit-snapshot';

/** What snapshotTo() wrote. */
export interface SnapshotInfo {
  dir: string;
  /** The snapshot holds every commit up to and including this transaction, and nothing after. */
  txn: number;
  entries: number;
  bytes: number;
  durationMs: number;
}

/** The result of Database.verifySnapshot(). */
export interface SnapshotReport {
  ok: boolean;
  txn: number | null;
  issues: string[];
}

interface Manifest {
  format: string;
  version: number;
  txn: number;
  createdAt: string;
  files: { name: string; bytes: number; blake3: string }[];
}

function syncFile(io: FileIO, file: string): void {
  const h = io.open(file, 'readWrite');
  try {
    h.datasync();
  } finally {
    h.close();
  }
}

/** Writes `version` as a snapshot into `dir`, which must be missing or empty. */
export async function writeSnapshot(core: ShardCore, version: Version, dir: string): Promise<SnapshotInfo> {
  const started = performance.now();
  const io = core.io;
  if (io.exists(dir) && io.readdir(dir).length > 0) throw new ValidationError(`snapshot directory ${dir} is not empty; give a new or empty directory`);
  io.mkdirp(dir);
  const ring = core.codec.keyRing?.currentOnly() ?? null;
  const codec = new StoreCodec(core.options.compression, core.options.compressionLevel, ring);
  const init = path.join(dir, `${DATA_FILE}.init`);
  const base = emptyStoreSlot(core.options.pageSize, version.txn, ring);
  const file = PageFile.create(io, init, codec, [{ ...base, seq: 0 }, { ...base, seq: 0 }], 0);
  let entries: number;
  try {
    const settings = txSettingsFor(core.options, LeafRatio.sample(version.tables, version.store, codec).value);
    const copy = await runInterleaved(copyDense(version, file, codec, settings, version.txn));
    entries = copy.entries;
    const slot = { ...base, fileEnd: copy.fileEnd, catalog: copy.catalog, freelist: copy.freelist };
    file.writeSlot(0, slot);
    file.writeSlot(1, { ...slot, seq: 2 });
    file.sync();
  } finally {
    file.close();
  }
  const data = path.join(dir, DATA_FILE);
  try {
    io.rename(init, data);
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: 1,
      txn: version.txn,
      createdAt: new Date().toISOString(),
      files: [{ name: DATA_FILE, bytes: io.fileSize(data), blake3: fileDigest(data) }],
    };
    const tmp = path.join(dir, `${MANIFEST_FILE}.tmp`);
    fs.writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
    syncFile(io, tmp);
    io.rename(tmp, path.join(dir, MANIFEST_FILE));
    io.syncDir(dir);
    return { dir, txn: version.txn, entries, bytes: manifest.files[0]!.bytes, durationMs: performance.now() - started };
  } catch (err) {
    throw ioError('write snapshot', dir, err);
  }
}

/** Checks a snapshot directory against its manifest: every file present, of its size and digest. */
export function verifySnapshotDir(dir: string): SnapshotReport {
  const issues: string[] = [];
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch (err) {
    return { ok: false, txn: null, issues: [`${MANIFEST_FILE} is missing or unreadable (${(err as Error).message}): this is not a complete snapshot`] };
  }
  if (manifest.format !== MANIFEST_FORMAT || manifest.version !== 1 || !Array.isArray(manifest.files)) {
    return { ok: false, txn: null, issues: [`${MANIFEST_FILE} is not a redb-audit snapshot manifest of version 1`] };
  }
  const listed = new Set(manifest.files.map((f) => f.name));
  for (const f of manifest.files) {
    const p = path.join(dir, f.name);
    if (!fs.existsSync(p)) {
      issues.push(`${f.name} is missing`);
      continue;
    }
    const bytes = fs.statSync(p).size;
    if (bytes !== f.bytes) issues.push(`${f.name} is ${bytes} bytes, the manifest says ${f.bytes}`);
    else if (fileDigest(p) !== f.blake3) issues.push(`${f.name} does not match its BLAKE3 digest (its contents changed)`);
  }
  for (const name of fs.readdirSync(dir)) {
    if (name !== MANIFEST_FILE && !listed.has(name) && name !== 'wal') issues.push(`${name} is not part of the snapshot`);
  }
  return { ok: issues.length === 0, txn: manifest.txn, issues };
}
