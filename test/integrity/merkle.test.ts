import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Frontier, leafHash, rootOfLeaves, verifyConsistency, verifyInclusion, EMPTY_ROOT } from '../../src/integrity/merkle.js';
import { headKey, kindRange, Kind, leafKey, u64 } from '../../src/integrity/log-keys.js';
import { encodeHead, TileLog } from '../../src/integrity/tile-log.js';
import { MemKv } from './mem-kv.js';
import { refCheckConsistency, refCheckInclusion, refLeaf, refRoot } from './rfc9162-reference.js';

const data = (i: number): Buffer => Buffer.from(`event-${i}`);

function buildLog(n: number, batch = 7): { log: TileLog; kv: MemKv; leaves: Buffer[] } {
  const kv = new MemKv();
  const leaves: Buffer[] = [];
  for (let i = 0; i < n; ) {
    const part = [];
    for (let j = 0; j < batch && i < n; j++, i++) {
      part.push({ id: `e${i}`, bytes: data(i) });
      leaves.push(refLeaf(data(i)));
    }
    new TileLog(kv, 't1').append(part);
  }
  return { log: new TileLog(kv, 't1'), kv, leaves };
}

test('leaf and node hashes follow RFC 6962 (known answer: the empty tree and a one-leaf tree)', () => {
  assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  // RFC 6962 leaf hash of the empty string: SHA-256(0x00).
  assert.equal(leafHash(Buffer.alloc(0)).toString('hex'), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  assert.deepEqual(rootOfLeaves([leafHash(Buffer.alloc(0))]), leafHash(Buffer.alloc(0)));
});

test('the frontier and the stored tiles give the reference tree hash at every size up to 600', () => {
  const { log, leaves } = buildLog(600, 13);
  const f = new Frontier(0, []);
  for (let n = 0; n <= 600; n++) {
    assert.deepEqual(f.root(), refRoot(leaves.slice(0, n)), `frontier root at ${n}`);
    if (n > 0 && (n % 37 === 0 || n < 20)) assert.deepEqual(log.rootAt(n), refRoot(leaves.slice(0, n)), `tile root at ${n}`);
    if (n < 600) f.push(leaves[n]!);
  }
  assert.equal(log.size(), 600);
  assert.deepEqual(log.currentRoot(), refRoot(leaves));
});

test('inclusion proofs from the tiles pass the independent RFC 9162 verifier and the production one', () => {
  const { log, leaves } = buildLog(300, 50);
  for (let n = 1; n <= 300; n += n < 40 ? 1 : 23) {
    const root = refRoot(leaves.slice(0, n));
    for (let m = 0; m < n; m += n < 40 ? 1 : 11) {
      const path = log.inclusionPath(m, n);
      assert.ok(refCheckInclusion(m, n, leaves[m]!, path, root), `reference, leaf ${m} of ${n}`);
      assert.ok(verifyInclusion(m, n, leaves[m]!, path, root), `production, leaf ${m} of ${n}`);
      assert.ok(!verifyInclusion(m, n, leaves[(m + 1) % n]!, path, root) || n === 1, 'a different leaf fails');
    }
  }
});

test('consistency proofs from the tiles pass the independent RFC 9162 verifier and the production one', () => {
  const { log, leaves } = buildLog(300, 64);
  for (let n = 1; n <= 300; n += n < 40 ? 1 : 29) {
    for (let m = 0; m <= n; m += n < 40 ? 1 : 13) {
      const proof = log.consistencyProof(m, n);
      const r1 = refRoot(leaves.slice(0, m));
      const r2 = refRoot(leaves.slice(0, n));
      assert.ok(refCheckConsistency(m, n, proof, r1, r2), `reference ${m} -> ${n}`);
      assert.ok(verifyConsistency(m, n, proof, r1, r2), `production ${m} -> ${n}`);
      if (m > 0 && m < n) assert.ok(!verifyConsistency(m, n, proof, r2, r2), `a wrong old root fails ${m} -> ${n}`);
    }
  }
});

test('a log past 65,536 leaves stores level-1 and level-2 tiles and still proves against the reference', () => {
  const n = 66_000;
  const { log, leaves } = buildLog(n, 1000);
  assert.ok(log.tile(2, 0) !== undefined, 'level-2 tile written');
  const root = refRoot(leaves);
  assert.deepEqual(log.currentRoot(), root);
  assert.deepEqual(log.rootAt(65_536), refRoot(leaves.slice(0, 65_536)));
  for (const m of [0, 255, 256, 65_535, 65_536, 65_999]) {
    assert.ok(refCheckInclusion(m, n, leaves[m]!, log.inclusionPath(m, n), root), `leaf ${m}`);
  }
  for (const m of [1, 256, 65_536, 65_537]) {
    assert.ok(refCheckConsistency(m, n, log.consistencyProof(m, n), refRoot(leaves.slice(0, m)), root), `${m} -> ${n}`);
  }
});

test('an append writes each touched tile once per call and reads O(log n) keys', () => {
  const { kv } = buildLog(5000, 500);
  kv.puts = 0;
  kv.gets = 0;
  const log = new TileLog(kv, 't1');
  log.append(Array.from({ length: 100 }, (_, i) => ({ id: `x${i}`, bytes: data(10_000 + i) })));
  // 100 leaf-index puts + head + the level-0 strips the 100 hashes span (at most 8), one level-1
  // strip, and as many id strips: whole strips, each written once.
  assert.ok(kv.puts <= 100 + 1 + 8 + 1 + 8, `puts ${kv.puts}`);
  assert.ok(kv.gets <= 6, `gets ${kv.gets}`);
  const proofLog = new TileLog(kv, 't1');
  kv.gets = 0;
  proofLog.inclusionPath(1234, proofLog.size());
  assert.ok(kv.gets <= 2 * 13, `proof gets ${kv.gets}`);
});

test('event ids map to leaf indexes and back', () => {
  const { log } = buildLog(600, 33);
  assert.equal(log.leafIndexOf('e0'), 0);
  assert.equal(log.leafIndexOf('e599'), 599);
  assert.equal(log.leafIndexOf('nope'), undefined);
  assert.deepEqual(log.idsOfTile(2).slice(0, 2), ['e512', 'e513']);
  assert.equal(log.idsOfTile(2).length, 600 - 512);
});

const entriesOf = (kv: MemKv, tenant: string, kind: number): number => [...kv.range(kindRange(tenant, kind))].length;

test('ids that rise above every earlier id share one run entry; the leaf index of each is found in the id tiles', () => {
  const kv = new MemKv();
  const ids = Array.from({ length: 1500 }, (_, i) => `01J${String(i).padStart(8, '0')}`);
  for (let i = 0; i < ids.length; i += 250) new TileLog(kv, 't').append(ids.slice(i, i + 250).map((id, j) => ({ id, bytes: data(i + j) })));
  assert.equal(entriesOf(kv, 't', Kind.Run), 1, 'one run for the whole log');
  assert.equal(entriesOf(kv, 't', Kind.Leaf), 0, 'no per-event leaf entry');
  const log = new TileLog(kv, 't');
  ids.forEach((id, i) => assert.equal(log.leafIndexOf(id), i, id));
  for (const absent of ['01I', '01J00000000x', '01J00000749!', '01J99999999', '']) assert.equal(log.leafIndexOf(absent), undefined, absent);
});

test('property: any order of ids and any batching, every id finds its leaf and no other id finds one', () => {
  // '\uFF21' sorts after the emoji's surrogates in UTF-16 but before its UTF-8 bytes: runs must use byte order.
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom('a', 'b', 'c', 'é', '\uFF21', '\u{1F600}', 'z') }), { minLength: 1, maxLength: 120 }), fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }), (ids, batches) => {
      const kv = new MemKv();
      let at = 0;
      for (let b = 0; at < ids.length; b++) {
        const n = batches[b % batches.length]!;
        new TileLog(kv, 'p').append(ids.slice(at, at + n).map((id, j) => ({ id, bytes: data(at + j) })));
        at += n;
      }
      const log = new TileLog(kv, 'p');
      ids.forEach((id, i) => assert.equal(log.leafIndexOf(id), i, `${id} at ${i}`));
      for (const other of ['a', 'ab', 'zzzzz', 'c\u{1F600}', 'é']) if (!ids.includes(other)) assert.equal(log.leafIndexOf(other), undefined, other);
      // Every leaf is indexed once: by a run, or by its own leaf entry.
      let inRuns = 0;
      for (const { value } of kv.range(kindRange('p', Kind.Run))) inRuns += value.readUInt32BE(12);
      assert.equal(inRuns + entriesOf(kv, 'p', Kind.Leaf), ids.length);
    }),
    { numRuns: 80 },
  );
});

test('an id appended again (its event purged and re-inserted) finds its newest leaf', () => {
  const kv = new MemKv();
  new TileLog(kv, 't').append(['a1', 'a2', 'a3', 'a4'].map((id, i) => ({ id, bytes: data(i) })));
  new TileLog(kv, 't').append([{ id: 'a2', bytes: data(10) }, { id: 'a4', bytes: data(11) }, { id: 'a5', bytes: data(12) }]);
  const log = new TileLog(kv, 't');
  assert.deepEqual(['a1', 'a2', 'a3', 'a4', 'a5'].map((id) => log.leafIndexOf(id)), [0, 4, 2, 5, 6]);
});

test('a log written before runs (leaf entries, a head naming no run) keeps leaf entries for new ids', () => {
  const kv = new MemKv();
  new TileLog(kv, 't').append(['a1', 'a2', 'a3'].map((id, i) => ({ id, bytes: data(i) })));
  // Rewrite it into the earlier form: one leaf entry per event, no run, a head of size and hashes only.
  for (const { key } of [...kv.range(kindRange('t', Kind.Run))]) kv.delete(key);
  ['a1', 'a2', 'a3'].forEach((id, i) => kv.put(leafKey('t', id), u64(i)));
  kv.put(headKey('t'), encodeHead(new TileLog(kv, 't').head()));
  new TileLog(kv, 't').append(['a4', 'a5'].map((id, i) => ({ id, bytes: data(3 + i) })));
  assert.equal(entriesOf(kv, 't', Kind.Run), 0);
  assert.equal(entriesOf(kv, 't', Kind.Leaf), 5);
  const log = new TileLog(kv, 't');
  assert.deepEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((id) => log.leafIndexOf(id)), [0, 1, 2, 3, 4, undefined]);
  assert.deepEqual(log.currentRoot(), refRoot([0, 1, 2, 3, 4].map((i) => refLeaf(data(i)))));
});

test('property: any batching of appends gives the reference root, and proofs verify at random sizes', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), fc.nat(), (batches, seed) => {
      const kv = new MemKv();
      const leaves: Buffer[] = [];
      let i = 0;
      for (const b of batches) {
        const part = Array.from({ length: b }, () => ({ id: `e${i}`, bytes: data(i++) }));
        part.forEach((p) => leaves.push(refLeaf(p.bytes)));
        new TileLog(kv, 'p').append(part);
      }
      const log = new TileLog(kv, 'p');
      const n = leaves.length;
      assert.deepEqual(log.currentRoot(), refRoot(leaves));
      const size = 1 + (seed % n);
      const m = seed % size;
      assert.ok(refCheckInclusion(m, size, leaves[m]!, log.inclusionPath(m, size), refRoot(leaves.slice(0, size))));
      const old = seed % (size + 1);
      assert.ok(refCheckConsistency(old, size, log.consistencyProof(old, size), refRoot(leaves.slice(0, old)), refRoot(leaves.slice(0, size))));
    }),
    { numRuns: 60 },
  );
});

test('tenants have separate logs in one table', () => {
  const kv = new MemKv();
  new TileLog(kv, 'a').append([{ id: 'x', bytes: data(1) }]);
  new TileLog(kv, 'ab').append([{ id: 'x', bytes: data(2) }, { id: 'y', bytes: data(3) }]);
  assert.equal(new TileLog(kv, 'a').size(), 1);
  assert.equal(new TileLog(kv, 'ab').size(), 2);
  assert.deepEqual(new TileLog(kv, 'a').currentRoot(), refLeaf(data(1)));
});
