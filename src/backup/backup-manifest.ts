/**
 * `backup.manifest.json`, the file that makes a backup directory a backup: it is written last, so a
 * directory without it is an incomplete backup. It lists every other file with its size and BLAKE3
 * digest, each shard's checkpoint (the header slot fields a restore writes back), and the base of an
 * incremental backup, named by path and pinned by the BLAKE3 digest of the base's manifest file.
 * Its own `checksum` is the BLAKE3 of the JSON of every other field, as in the store manifest.
 * docs/format.md, "Backups", is normative.
 */
import fs from 'node:fs';
import path from 'node:path';
import { blake3 } from '../blob/blake3.js';
import type { BlockRef, HeaderSlot, KeyRingEntry } from '../shard/backup-source.js';

export const BACKUP_MANIFEST = 'backup.manifest.json';
export const BACKUP_FORMAT = 'redb-audit-backup';
/** The copy of the store manifest inside a backup (same name as in a store's base directory). */
export const STORE_MANIFEST_COPY = 'redb.manifest.json';

/** A block ref in JSON. */
export interface RefJson {
  offset: number;
  length: number;
  crc: number;
}

/** The header slot fields a restore needs (the WAL position and flags are chosen fresh). */
export interface SlotJson {
  pageSize: number;
  databaseId: number;
  seq: number;
  checkpointTxn: number;
  fileEnd: number;
  catalog: RefJson | null;
  freelist: RefJson | null;
  keyId: number;
  keyRing: { id: number; kdf: number; salt: string; kcv: string }[];
}

export interface BackupShardEntry {
  index: number;
  /** The shard holds every commit up to this transaction and none after. */
  txn: number;
  /** `<dev>:<inode>` of the page file backed up; an incremental reuses blocks only from the same file. */
  pageFileId: string;
  slot: SlotJson;
  /** Blocks (and their bytes) the checkpoint reaches. */
  blocks: number;
  bytes: number;
  /** Of those, the ones stored in this backup's blocks file. */
  storedBlocks: number;
  storedBytes: number;
}

export interface BackupFileEntry {
  /** Path relative to the backup directory, with `/` separators. */
  name: string;
  bytes: number;
  blake3: string;
}

export interface BackupBase {
  /** The base directory relative to this one (tried first, so a chain can be moved as a whole). */
  path: string;
  /** The base directory as it was when this backup was taken (tried second). */
  absolutePath: string;
  /** BLAKE3 of the base's backup.manifest.json file: a base that changed is refused. */
  manifestBlake3: string;
}

export interface BackupManifest {
  format: string;
  version: number;
  createdAt: string;
  kind: 'full' | 'incremental';
  base: BackupBase | null;
  shardCount: number;
  shards: BackupShardEntry[];
  files: BackupFileEntry[];
}

/** Shard files are numbered with three digits, as shard directories are (shardCount is at most 256). */
function shardName(shard: number): string {
  return String(shard).padStart(3, '0');
}

export function shardIndexFile(shard: number): string {
  return `shards/${shardName(shard)}.index`;
}

export function shardBlocksFile(shard: number): string {
  return `shards/${shardName(shard)}.blocks`;
}

export function refToJson(ref: BlockRef | null): RefJson | null {
  return ref ? { offset: ref.offset, length: ref.length, crc: ref.crc } : null;
}

export function slotToJson(s: HeaderSlot): SlotJson {
  return {
    pageSize: s.pageSize,
    databaseId: s.databaseId,
    seq: s.seq,
    checkpointTxn: s.checkpointTxn,
    fileEnd: s.fileEnd,
    catalog: refToJson(s.catalog),
    freelist: refToJson(s.freelist),
    keyId: s.keyId,
    keyRing: s.keyRing.map((e) => ({ id: e.id, kdf: e.kdf, salt: Buffer.from(e.salt).toString('hex'), kcv: Buffer.from(e.kcv).toString('hex') })),
  };
}

export function keyRingFromJson(ring: SlotJson['keyRing']): KeyRingEntry[] {
  return ring.map((k) => ({ id: k.id, kdf: k.kdf, salt: Buffer.from(k.salt, 'hex'), kcv: Buffer.from(k.kcv, 'hex') }));
}

function checksum(body: BackupManifest): string {
  return Buffer.from(blake3(Buffer.from(JSON.stringify(body)))).toString('hex');
}

/** The manifest file's bytes: the body and its checksum. */
export function encodeBackupManifest(body: BackupManifest): Uint8Array {
  return Buffer.from(`${JSON.stringify({ ...body, checksum: checksum(body) }, null, 2)}\n`);
}

/** A backup's manifest, checked, and the BLAKE3 of its file (what an incremental pins its base by). */
export interface LoadedManifest {
  dir: string;
  manifest: BackupManifest;
  digest: string;
}

/** Reads and checks `dir`'s manifest; returns a reason string when it is missing or damaged. */
export function readBackupManifest(dir: string): LoadedManifest | string {
  const file = path.join(dir, BACKUP_MANIFEST);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${file} is missing: ${dir} is not a backup, or an incomplete one` : `${file} cannot be read (${(err as Error).message})`;
  }
  let parsed: BackupManifest & { checksum?: unknown };
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as BackupManifest & { checksum?: unknown };
  } catch (err) {
    return `${file} is not valid JSON (${(err as Error).message}): it is damaged`;
  }
  if (typeof parsed !== 'object' || parsed === null) return `${file} is not a backup manifest`;
  const { checksum: stored, ...body } = parsed;
  if (body.format !== BACKUP_FORMAT || body.version !== 1) return `${file} is not a redb-audit backup manifest of version 1`;
  if (stored !== checksum(body)) return `${file} does not match its checksum: it is damaged`;
  if (!Number.isInteger(body.shardCount) || !Array.isArray(body.shards) || body.shards.length !== body.shardCount || !Array.isArray(body.files)) {
    return `${file} is malformed (shards or files)`;
  }
  if ((body.kind === 'incremental') !== (body.base !== null)) return `${file} is malformed (kind and base disagree)`;
  return { dir, manifest: body, digest: Buffer.from(blake3(bytes)).toString('hex') };
}
