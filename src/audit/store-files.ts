/**
 * The files an audit store keeps beside its shards that an engine backup does not copy: the
 * checkpoint signing key (integrity-signing-key.pem) and the personal-data key (personal-data.key),
 * plus any the caller names (the CLI adds its init settings, redb-audit.cli.json). Without the first, a restored store cannot verify the
 * checkpoints it signed (verify reports every log as forked); without the second, sealed personal
 * data cannot be read. `backup` copies them into `<backup>/store-files/` with `store-files.json`
 * (name, size, BLAKE3 of each), `restore` checks them and puts them back.
 *
 * Invariant: a restored store gets a file only if its digest matches what the backup recorded; the
 * keys are written with mode 0600. Whoever holds a backup holds these keys too (as they hold the
 * data): keep backups as private as the store, or configure the signing key outside the store
 * (integrity.signingKey) so that it is never in either.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError } from '../errors.js';
import { blake3 } from '../blob/blake3.js';
import { KEY_FILE } from '../integrity/checkpoint-signer.js';
import { PD_KEY_FILE } from '../integrity/personal-data-vault.js';
import { writeFileAtomic } from '../io/durable-file.js';

const FILES = [KEY_FILE, PD_KEY_FILE];
const DIR = 'store-files';
const INDEX = 'store-files.json';

const digest = (b: Uint8Array): string => Buffer.from(blake3(b)).toString('hex');

/** Copies the store's side files into the backup; returns their names. */
export function saveStoreFiles(storeDir: string, backupDir: string, extra: readonly string[] = []): string[] {
  const present = [...FILES, ...extra].filter((f) => fs.existsSync(path.join(storeDir, f)));
  if (present.length === 0) return [];
  fs.mkdirSync(path.join(backupDir, DIR), { recursive: true });
  const index: { name: string; bytes: number; blake3: string }[] = [];
  for (const name of present) {
    const bytes = fs.readFileSync(path.join(storeDir, name));
    writeFileAtomic(path.join(backupDir, DIR, name), bytes);
    fs.chmodSync(path.join(backupDir, DIR, name), 0o600);
    index.push({ name, bytes: bytes.length, blake3: digest(bytes) });
  }
  writeFileAtomic(path.join(backupDir, DIR, INDEX), Buffer.from(`${JSON.stringify(index, null, 2)}\n`));
  return present;
}

/** Puts the side files of `backupDir` into the restored store `toDir`; returns their names. */
export function restoreStoreFiles(backupDir: string, toDir: string, extra: readonly string[] = []): string[] {
  const indexFile = path.join(backupDir, DIR, INDEX);
  if (!fs.existsSync(indexFile)) return [];
  const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { name: string; bytes: number; blake3: string }[];
  for (const entry of index) {
    if (!FILES.includes(entry.name) && !extra.includes(entry.name)) throw new CorruptionError(indexFile, 0, `it names ${JSON.stringify(entry.name)}, which is not a store file`);
    const file = path.join(backupDir, DIR, entry.name);
    const bytes = fs.existsSync(file) ? fs.readFileSync(file) : null;
    if (!bytes || digest(bytes) !== entry.blake3) throw new CorruptionError(file, 0, 'the store file is missing or does not match its BLAKE3 digest in store-files.json');
  }
  for (const entry of index) {
    writeFileAtomic(path.join(toDir, entry.name), fs.readFileSync(path.join(backupDir, DIR, entry.name)));
    fs.chmodSync(path.join(toDir, entry.name), 0o600);
  }
  return index.map((e) => e.name);
}
