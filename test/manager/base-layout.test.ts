/**
 * Pins the base directory of a store and its manifest to the golden files under fixtures/format/,
 * which docs/format.md ("Base directory", "Store manifest") quotes. A change here is a format change.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CorruptionError, RedbManager } from '../../src/index.js';
import { MANIFEST_NAME, readManifest, writeManifest } from '../../src/manager/manifest.js';
import { enc, tmpDir } from '../support/tmp.js';

const FIXTURES = path.join(import.meta.dirname, '..', '..', 'fixtures', 'format');

const plainBody = {
  format: 'redb-audit-store',
  version: 1,
  createdAt: '2026-12-04T12:00:00.000Z',
  shardCount: 2,
  routing: 'fnv1a64-jump',
  compression: 'lz4',
  compressionLevel: 3,
  encryption: null,
};
const encryptedBody = {
  ...plainBody,
  encryption: { keyRing: [{ id: 1, kdf: 0, salt: '00112233445566778899aabbccddeeff', kcv: '0123456789abcdef0123456789abcdef' }], currentKeyId: 1 },
};

/** Every entry under `dir`, depth first, directories with a trailing slash; WAL segment numbers kept. */
function tree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix + e.name;
    if (e.isDirectory()) out.push(`${rel}/`, ...tree(path.join(dir, e.name), `${rel}/`));
    else out.push(rel);
  }
  return out;
}

function fixtureLines(name: string): string[] {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

test('the store manifest is written byte for byte as the golden files, and read back to the same fields', (t) => {
  for (const [body, name] of [
    [plainBody, 'redb.manifest.plain.json'],
    [encryptedBody, 'redb.manifest.encrypted.json'],
  ] as const) {
    const dir = tmpDir(t);
    writeManifest(dir, body);
    assert.deepEqual(fs.readFileSync(path.join(dir, MANIFEST_NAME)), fs.readFileSync(path.join(FIXTURES, name)), name);
    const copy = tmpDir(t);
    fs.copyFileSync(path.join(FIXTURES, name), path.join(copy, MANIFEST_NAME));
    assert.deepEqual(readManifest(copy), body);
  }
});

test('a store manifest whose fields no longer match its checksum is refused as corruption', (t) => {
  const dir = tmpDir(t);
  const text = fs.readFileSync(path.join(FIXTURES, 'redb.manifest.plain.json'), 'utf8');
  fs.writeFileSync(path.join(dir, MANIFEST_NAME), text.replace('"shardCount": 2', '"shardCount": 3'));
  assert.throws(() => readManifest(dir), (e: unknown) => e instanceof CorruptionError && /does not match its checksum/.test(e.message));
});

test('a two-shard store lays out its base directory as fixtures/format/base-layout.txt, open and closed', (t) => {
  const baseDir = tmpDir(t);
  const db = RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 2 });
  try {
    db.shard('tenant-a').write((tx) => tx.put(enc('k'), enc('v')));
    assert.deepEqual(tree(baseDir), fixtureLines('base-layout.open.txt'));
  } finally {
    db.close();
  }
  assert.deepEqual(tree(baseDir), fixtureLines('base-layout.closed.txt'));
});
