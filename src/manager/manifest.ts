/**
 * The store manifest, `<baseDir>/redb.manifest.json`: what every open must agree with before anything
 * is written. Its fields:
 *
 *   format "redb-audit-store", version 1, createdAt, shardCount, routing "fnv1a64-jump",
 *   compression, compressionLevel (the settings it was created with; later opens may change them),
 *   encryption: null or { keyRing: [{ id, kdf, salt (hex), kcv (hex) }], currentKeyId },
 *   checksum: hex BLAKE3 of the JSON of every other field.
 *
 * It is written to a temporary file, fsynced, renamed into place, and the directory fsynced.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, EncryptionKeyError, ValidationError } from '../errors.js';
import { blake3 } from '../blob/blake3.js';
import { KeyRing, type KeyRingEntry } from '../codec/key-ring.js';
import { resolveKeySource } from '../codec/key-source.js';
import { writeFileAtomic } from '../io/durable-file.js';
import { MANIFEST_NAME } from '../io/base-layout.js';
import type { ResolvedRedbOptions } from './options.js';

export { MANIFEST_NAME };
const FORMAT = 'redb-audit-store';

interface ManifestBody {
  format: string;
  version: number;
  createdAt: string;
  shardCount: number;
  routing: string;
  compression: string;
  compressionLevel: number;
  encryption: { keyRing: { id: number; kdf: number; salt: string; kcv: string }[]; currentKeyId: number } | null;
}

function checksum(body: ManifestBody): string {
  return Buffer.from(blake3(Buffer.from(JSON.stringify(body)))).toString('hex');
}

function toEntries(e: NonNullable<ManifestBody['encryption']>): KeyRingEntry[] {
  return e.keyRing.map((k) => ({ id: k.id, kdf: k.kdf, salt: Buffer.from(k.salt, 'hex'), kcv: Buffer.from(k.kcv, 'hex') }));
}

function fromRing(ring: KeyRing): NonNullable<ManifestBody['encryption']> {
  return {
    keyRing: ring.entries.map((e) => ({ id: e.id, kdf: e.kdf, salt: Buffer.from(e.salt).toString('hex'), kcv: Buffer.from(e.kcv).toString('hex') })),
    currentKeyId: ring.currentId,
  };
}

/** Reads and checks the manifest; null when the directory has none (a new store). */
export function readManifest(baseDir: string): ManifestBody | null {
  const file = path.join(baseDir, MANIFEST_NAME);
  if (!fs.existsSync(file)) return null;
  let parsed: ManifestBody & { checksum?: string };
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as ManifestBody & { checksum?: string };
  } catch (err) {
    throw new CorruptionError(file, 0, `the store manifest is not valid JSON (${(err as Error).message})`);
  }
  const { checksum: stored, ...body } = parsed;
  if (body.format !== FORMAT || body.version !== 1) throw new CorruptionError(file, 0, 'not a redb-audit store manifest of version 1');
  if (stored !== checksum(body)) throw new CorruptionError(file, 0, 'the store manifest does not match its checksum');
  return body;
}

export function writeManifest(baseDir: string, body: ManifestBody): void {
  const json = `${JSON.stringify({ ...body, checksum: checksum(body) }, null, 2)}\n`;
  writeFileAtomic(path.join(baseDir, MANIFEST_NAME), Buffer.from(json));
}

/**
 * Checks the options against an existing manifest, or creates one for a new store. Fails before any
 * shard is touched: a conflicting shard count, a key for an unencrypted store (or none for an
 * encrypted one), or a key that is not the store's.
 */
export function reconcileManifest(o: ResolvedRedbOptions, isNew: boolean): ManifestBody {
  const existing = isNew ? null : readManifest(o.baseDir);
  if (!existing) {
    const ring = o.encryptionEnabled ? KeyRing.create(resolveKeySource(o.encryptionKey)) : null;
    const body: ManifestBody = {
      format: FORMAT,
      version: 1,
      createdAt: new Date().toISOString(),
      shardCount: o.shardCount,
      routing: 'fnv1a64-jump',
      compression: o.compression,
      compressionLevel: o.compressionLevel,
      encryption: ring ? fromRing(ring) : null,
    };
    writeManifest(o.baseDir, body);
    return body;
  }
  if (existing.shardCount !== o.shardCount) {
    throw new ValidationError(
      `the store in ${o.baseDir} has ${existing.shardCount} shard(s) but the options ask for ${o.shardCount}; ` +
        `open it with shardCount: ${existing.shardCount}${existing.shardCount > 1 ? ' and shardingEnabled: true' : ' and sharding disabled'}`,
    );
  }
  if (!existing.encryption && o.encryptionEnabled) throw new EncryptionKeyError(`the store in ${o.baseDir} was created without encryption; open it without encryptionEnabled`);
  if (existing.encryption && !o.encryptionEnabled) throw new EncryptionKeyError(`the store in ${o.baseDir} is encrypted; open it with encryptionEnabled and its encryptionKey`);
  if (existing.encryption) {
    const ring = KeyRing.open(
      toEntries(existing.encryption),
      resolveKeySource(o.encryptionKey),
      o.previousEncryptionKeys.map((k, i) => resolveKeySource(k, `previous key ${i}`)),
    );
    const updated = fromRing(ring);
    if (JSON.stringify(updated) !== JSON.stringify(existing.encryption)) {
      // A new key given with every old one: the store rotates to it (the shards do the same).
      const body = { ...existing, encryption: updated };
      writeManifest(o.baseDir, body);
      return body;
    }
  }
  return existing;
}

/** Records the key ring after a rotation or rekey. */
export function updateManifestKeys(baseDir: string, ring: KeyRing): void {
  const body = readManifest(baseDir);
  if (body) writeManifest(baseDir, { ...body, encryption: fromRing(ring) });
}
