import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cleanupBackups, listBackups, NotFoundError, RedbManager, ValidationError } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

async function chain(t: import('node:test').TestContext): Promise<{ root: string; at: (n: string) => string }> {
  const root = tmpDir(t, 'catalog');
  const at = (n: string): string => path.join(root, 'backups', n);
  const m = RedbManager.open({ baseDir: path.join(root, 'store') });
  try {
    m.shardAt(0).write((tx) => tx.put(Buffer.from('a'), Buffer.from('1')));
    await m.backup(at('1-full'));
    m.shardAt(0).write((tx) => tx.put(Buffer.from('b'), Buffer.from('2')));
    await m.backup(at('2-inc'), { since: at('1-full') });
    await m.backup(at('3-inc'), { since: at('2-inc') });
    await m.backup(at('4-full'));
  } finally {
    m.close();
  }
  return { root, at };
}

test('listBackups lists a directory\'s backups oldest first with the chain each needs', async (t) => {
  const { root, at } = await chain(t);
  fs.mkdirSync(path.join(root, 'backups', 'notes'));
  const { backups, unreadable } = listBackups(path.join(root, 'backups'));
  assert.deepEqual(backups.map((b) => b.name), ['1-full', '2-inc', '3-inc', '4-full']);
  assert.deepEqual(backups[2]!.needs, [at('2-inc'), at('1-full')]);
  assert.equal(backups[3]!.kind, 'full');
  assert.deepEqual(unreadable, []);
  assert.throws(() => listBackups(path.join(root, 'nope')), NotFoundError);
});

test('cleanupBackups keeps the newest N and the whole chain they need; keep 0 is refused', async (t) => {
  const { root, at } = await chain(t);
  const dir = path.join(root, 'backups');
  const r = cleanupBackups(dir, { keep: 2 });
  assert.deepEqual(r.kept.sort(), [at('3-inc'), at('4-full')]);
  assert.deepEqual(r.keptAsBase.sort(), [at('1-full'), at('2-inc')]);
  assert.deepEqual(r.removed, []);
  const one = cleanupBackups(dir, { keep: 1 });
  assert.deepEqual(one.removed.sort(), [at('1-full'), at('2-inc'), at('3-inc')]);
  assert.deepEqual(fs.readdirSync(dir), ['4-full']);
  assert.equal(RedbManager.verifyBackup(at('4-full')).ok, true);
  assert.throws(() => cleanupBackups(dir, { keep: 0 }), ValidationError);
});
