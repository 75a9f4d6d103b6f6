import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { canonicalJson } from '../../src/audit/canonical-json.js';

import { formatCheckpoint } from '../../src/integrity/checkpoint-note.js';
import { headKey, kindRange, Kind, leafKey, runKey, tileKey, u64, writeU64 } from '../../src/integrity/log-keys.js';
import { Frontier } from '../../src/integrity/merkle.js';
import { parseVkey, rawPublicKey, signNote, vkeyOf } from '../../src/integrity/signed-note.js';
import { encodeHead, TileLog } from '../../src/integrity/tile-log.js';
import { verifyLog, type StoredEvents } from '../../src/integrity/verify-log.js';
import { MemKv } from './mem-kv.js';

const canonicalBytes = (v: unknown): Buffer => Buffer.from(canonicalJson(v), 'utf8');

const { privateKey } = generateKeyPairSync('ed25519');
const verifier = parseVkey(vkeyOf('k', rawPublicKey(privateKey)));

function setup(n = 700): { kv: MemKv; store: Map<string, Buffer>; source: StoredEvents; checkpoint: string } {
  const kv = new MemKv();
  const store = new Map<string, Buffer>();
  for (let i = 0; i < n; i += 100) {
    const part = Array.from({ length: Math.min(100, n - i) }, (_, j) => {
      const id = `ev${String(i + j).padStart(5, '0')}`;
      const bytes = canonicalBytes({ id, n: i + j, tenantId: 't' });
      store.set(id, bytes);
      return { id, bytes };
    });
    new TileLog(kv, 't').append(part);
  }
  const log = new TileLog(kv, 't');
  const checkpoint = signNote(formatCheckpoint('o/t', n, log.currentRoot()), 'k', privateKey);
  log.addCheckpoint(checkpoint);
  const source: StoredEvents = { bytesOf: (id) => store.get(id), ids: () => store.keys() };
  return { kv, store, source, checkpoint };
}

const kinds = (r: ReturnType<typeof verifyLog>): string[] => [...new Set(r.issues.map((i) => i.kind))].sort();

test('an untouched log verifies, against its stored checkpoints and a trusted one', () => {
  const { kv, source, checkpoint } = setup();
  const r = verifyLog(new TileLog(kv, 't'), source, verifier, checkpoint);
  assert.deepEqual(r.issues, []);
  assert.equal(r.ok, true);
  assert.equal(r.checkedEvents, 700);
  assert.equal(r.checkpoints, 1);
});

test('an edited event is reported as edited, with its leaf, and forks the checkpoint', () => {
  const { kv, store, source } = setup();
  store.set('ev00042', canonicalBytes({ id: 'ev00042', n: 4242, tenantId: 't' }));
  const r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(kinds(r), ['edited', 'forked']);
  assert.equal(r.issues.find((i) => i.kind === 'edited')!.leafIndex, 42);
});

test('a deleted event is reported, a purged one is not', () => {
  const { kv, store, source } = setup();
  store.delete('ev00007');
  store.delete('ev00300');
  new TileLog(kv, 't').markPurged(300, 'ev00300');
  const r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(r.issues.map((i) => `${i.kind}:${i.leafIndex}`), ['deleted:7']);
  assert.equal(r.purgedLeaves, 1);
});

test('an inserted event and two swapped records are reported', () => {
  const { kv, store, source } = setup();
  store.set('forged', canonicalBytes({ id: 'forged' }));
  const a = store.get('ev00010')!;
  store.set('ev00010', store.get('ev00500')!);
  store.set('ev00500', a);
  const r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(kinds(r), ['forked', 'inserted', 'reordered']);
  assert.deepEqual(r.issues.filter((i) => i.kind === 'reordered').map((i) => i.leafIndex), [10, 500]);
});

test('a truncated log is caught by its stored checkpoint and by a trusted one', () => {
  const { kv, source, checkpoint } = setup();
  const f = new Frontier(0, []);
  const log = new TileLog(kv, 't');
  for (let i = 0; i < 650; i++) f.push(log.leafHashAt(i));
  kv.put(headKey('t'), encodeHead(f));
  const r = verifyLog(new TileLog(kv, 't'), source, verifier, checkpoint);
  assert.ok(kinds(r).includes('truncated'), kinds(r).join());
  assert.equal(r.issues.filter((i) => i.kind === 'truncated').length, 2);
});

test('a rewritten history that is self-consistent is caught only by checkpoints', () => {
  const { store, source, checkpoint } = setup(300);
  // Rebuild the whole log from scratch with one event changed: tiles and head agree with events.
  const kv2 = new MemKv();
  store.set('ev00003', canonicalBytes({ id: 'ev00003', n: -1, tenantId: 't' }));
  new TileLog(kv2, 't').append([...store.entries()].map(([id, bytes]) => ({ id, bytes })));
  const honest = verifyLog(new TileLog(kv2, 't'), source, verifier);
  assert.equal(honest.ok, true, 'without a checkpoint the rewrite is invisible');
  const r = verifyLog(new TileLog(kv2, 't'), source, verifier, checkpoint);
  assert.deepEqual(kinds(r), ['forked']);
});

test('a damaged interior tile is reported as a tree finding', () => {
  const { kv, source } = setup(600);
  const t1 = Buffer.from(new TileLog(kv, 't').tile(1, 0)!);
  t1[5] = t1[5]! ^ 1;
  kv.put(tileKey('t', 1, 0, 0), t1); // 600 leaves: two level-8 hashes, both in strip 0
  const r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(kinds(r), ['tree']);
});

test('a run entry cut short or removed, or a leaf entry moved, leaves the events it no longer indexes reported as inserted', () => {
  const { kv, source } = setup();
  const runs = [...kv.range(kindRange('t', Kind.Run))];
  assert.equal(runs.length, 1, 'ascending ids: one run');
  const { key, value } = runs[0]!;
  const short = Buffer.from(value);
  writeU64(short, 600, 8);
  kv.put(key, short);
  let r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(kinds(r), ['inserted', 'tree']);
  assert.deepEqual(r.issues.filter((i) => i.kind === 'inserted').map((i) => i.eventId), Array.from({ length: 100 }, (_, i) => `ev${String(600 + i).padStart(5, '0')}`));
  assert.match(r.issues.find((i) => i.kind === 'tree')!.message, /does not match the event ids stored/);
  kv.delete(key);
  r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(kinds(r), ['inserted', 'tree']);
  assert.equal(r.issues.filter((i) => i.kind === 'inserted').length, 700);
  assert.match(r.issues.find((i) => i.kind === 'tree')!.message, /head does not name the last run/);
  kv.put(key, value);
  kv.put(leafKey('t', 'ev00003'), u64(4));
  r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(r.issues.map((i) => `${i.kind}:${i.eventId}`), ['inserted:ev00003']);
});

test('runs that overlap, reach past the log, or that the head does not name are reported as tree findings', () => {
  const { kv, source } = setup(300);
  const log = new TileLog(kv, 't');
  // A forged second run over ids the first already spans, and past the log's end.
  const forged = Buffer.alloc(16 + 7);
  writeU64(forged, 250, 0);
  writeU64(forged, 60, 8);
  forged.write('ev00309', 16);
  kv.put(runKey('t', Buffer.from('ev00250')), forged);
  let r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(kinds(r), ['tree']);
  assert.deepEqual(r.issues.map((i) => i.message).sort(), [
    'the log head does not name the last run: the log was altered outside the store',
    'the run from leaf 250 (60 leaves) overlaps the ids of the run before it',
    'the run from leaf 250 (60 leaves) reaches past the log\'s 300 leaves',
  ]);
  kv.delete(runKey('t', Buffer.from('ev00250')));
  kv.put(headKey('t'), encodeHead(log.head(), Buffer.from('ev00001')));
  r = verifyLog(new TileLog(kv, 't'), source, verifier);
  assert.deepEqual(r.issues.map((i) => i.message), ['the log head does not name the last run: the log was altered outside the store']);
});
