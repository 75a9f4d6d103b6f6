/**
 * The layers import only downward, and the backup layer reaches shards through one interface
 * (src/shard/backup-source.ts). Read from the source: a new import that breaks the layering fails
 * here with the file and the import named.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const SRC = path.join(import.meta.dirname, '..', 'src');

/** Every relative import of every .ts file under src/<folder>/, as [file, resolved path under src]. */
function imports(folder: string): [string, string][] {
  const out: [string, string][] = [];
  const dir = path.join(SRC, folder);
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (!rel.endsWith('.ts')) continue;
    const file = path.join(dir, rel);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      out.push([path.relative(SRC, file), path.relative(SRC, path.resolve(path.dirname(file), m[1]!))]);
    }
  }
  return out;
}

const top = (p: string): string => p.split(path.sep)[0]!;

test('the engine layers import nothing above them', () => {
  const order = ['util', 'blob', 'io', 'codec', 'pagefile', 'btree', 'wal', 'shard', 'backup', 'manager'];
  const shared = new Set(['errors.js', 'util', 'blob']);
  const bad: string[] = [];
  for (const layer of order) {
    for (const [file, target] of imports(layer)) {
      const t = top(target);
      if (shared.has(t) || t === layer) continue;
      if (!order.includes(t) || order.indexOf(t) > order.indexOf(layer)) bad.push(`${file} imports ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('backup/ reaches shards only through shard/backup-source.ts, and manager/ never reaches pagefile/, wal/ or btree/', () => {
  const bad: string[] = [];
  for (const [file, target] of imports('backup')) {
    if (['pagefile', 'wal', 'btree', 'codec'].includes(top(target))) bad.push(`${file} imports ${target}`);
    if (top(target) === 'shard' && target !== path.join('shard', 'backup-source.js')) bad.push(`${file} imports ${target}`);
  }
  for (const [file, target] of imports('manager')) {
    if (['pagefile', 'wal', 'btree'].includes(top(target))) bad.push(`${file} imports ${target}`);
  }
  assert.deepEqual(bad, []);
});

test('the audit store, its integrity and forwarding layers never import the CLI above them', () => {
  const bad: string[] = [];
  for (const layer of ['audit', 'integrity', 'forward']) {
    for (const [file, target] of imports(layer)) if (top(target) === 'cli') bad.push(`${file} imports ${target}`);
  }
  assert.deepEqual(bad, []);
});
