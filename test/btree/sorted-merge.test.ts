/**
 * The one-pass merge of sorted writes into a tree (btree/sorted-merge.ts), on in-memory trees with
 * small node limits so a few hundred keys make three or four levels: after any run of puts and
 * deletions the tree holds exactly the model's entries, every leaf sits at one depth, every branch has
 * two or more children and no leaf is empty, the tree it merged into is unchanged, and a merge with
 * deletions leaves no rebuilt node under a quarter full beside a sibling it could have joined.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sepAt } from '../../src/btree/branch.js';
import { inlineValueAt, keyAt } from '../../src/btree/leaf.js';
import type { LeafNode, LeafValue, Node } from '../../src/btree/node.js';
import type { NodeStore } from '../../src/btree/node-store.js';
import { mergeSortedWrites, type SortedWrites } from '../../src/btree/sorted-merge.js';
import type { WriteContext } from '../../src/btree/tree-write.js';
import type { BlockRef } from '../../src/pagefile/layout.js';

const MAX_LEAF = 200;
const MAX_NODE = 120;

/** Every node here lives in memory: a load would mean the merge lost a child. */
const store = {
  load(): Node {
    throw new Error('the merge asked the store for a node that was never stored');
  },
} as unknown as NodeStore;

let txns = 0;
function context(): WriteContext & { freed: BlockRef[] } {
  const freed: BlockRef[] = [];
  return {
    txn: -++txns,
    mutableAfter: Infinity,
    store,
    maxNodeSize: MAX_NODE,
    maxLeafSize: MAX_LEAF,
    freed,
    freeBlock: (ref) => freed.push(ref),
    releaseValue: () => {},
    created: () => {},
  };
}

function writes(entries: [Uint8Array, Uint8Array | null][]): SortedWrites {
  return {
    length: entries.length,
    deletions: entries.some(([, v]) => v === null),
    key: (i) => entries[i]![0],
    value: (i) => entries[i]![1] as LeafValue | null,
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const key = (n: number): Uint8Array => Buffer.from(`k${String(n).padStart(5, '0')}`);
const value = (n: number, round: number): Uint8Array => Buffer.from(`v${round}.${n}.${'x'.repeat(n % 23)}`);

/** Entries in order, checking the shape on the way; returns the leaf depth too. */
function walk(root: Node | null): { entries: [string, string][]; depth: number } {
  const entries: [string, string][] = [];
  if (!root) return { entries, depth: 0 };
  let depth = -1;
  const visit = (node: Node, d: number, lo: Uint8Array | null, hi: Uint8Array | null): void => {
    if (node.isLeaf) {
      assert.ok(node.count > 0 || node === root, 'an empty leaf below the root');
      if (depth === -1) depth = d;
      assert.equal(d, depth, 'leaves at different depths');
      for (let i = 0; i < node.count; i++) {
        const k = keyAt(node, i);
        if (lo) assert.ok(Buffer.compare(k, lo) >= 0, 'a key below its separator');
        if (hi) assert.ok(Buffer.compare(k, hi) < 0, 'a key at or above its separator');
        entries.push([hex(k), hex(inlineValueAt(node, i))]);
      }
      return;
    }
    assert.ok(node.kids.length >= 2, `a branch with ${node.kids.length} child`);
    for (let i = 0; i < node.kids.length; i++) {
      const kid = node.kids[i];
      assert.ok(kid, 'a child that is neither in memory nor stored');
      visit(kid, d + 1, i > 0 ? sepAt(node, i - 1) : lo, i < node.kids.length - 1 ? sepAt(node, i) : hi);
    }
  };
  visit(root, 0, null, null);
  for (let i = 1; i < entries.length; i++) assert.ok(entries[i - 1]![0] < entries[i]![0], 'keys out of order');
  return { entries, depth };
}

/** Leaves under a quarter full that share a parent with a sibling, among the nodes the merge built. */
function smallRebuiltLeaves(root: Node | null, txn: number): number {
  let n = 0;
  const visit = (node: Node): void => {
    if (node.isLeaf) return;
    for (const kid of node.kids) {
      if (kid!.isLeaf && kid!.txn === txn && node.kids.length > 1 && (kid as LeafNode).size < MAX_LEAF / 4) n++;
      visit(kid!);
    }
  };
  if (root) visit(root);
  return n;
}

function modelEntries(model: Map<number, Uint8Array>): [string, string][] {
  return [...model.keys()].sort((a, b) => a - b).map((k) => [hex(key(k)), hex(model.get(k)!)]);
}

test('merging runs of puts and deletions leaves exactly the model, a balanced tree, and the old tree unchanged', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), from: fc.nat(400), span: fc.integer({ min: 1, max: 120 }), step: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('del' as const), from: fc.nat(400), span: fc.integer({ min: 1, max: 300 }), step: fc.integer({ min: 1, max: 3 }) }),
  );
  fc.assert(
    fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }), (rounds) => {
      const model = new Map<number, Uint8Array>();
      let root: Node | null = null;
      let count = 0;
      rounds.forEach((ops, round) => {
        // One merge per round: the last write of each key wins, as in a memtable's newest versions.
        const batch = new Map<number, Uint8Array | null>();
        for (const o of ops) for (let k = o.from; k < o.from + o.span; k += o.step) batch.set(k, o.kind === 'put' ? value(k, round) : null);
        const sorted = [...batch.keys()].sort((a, b) => a - b);
        const before = walk(root).entries;
        const ctx = context();
        const r = mergeSortedWrites(root, writes(sorted.map((k) => [key(k), batch.get(k)!])), ctx);
        assert.deepEqual(walk(root).entries, before, 'the merge changed the tree it merged into');
        for (const [k, v] of batch) {
          if (v) model.set(k, v);
          else model.delete(k);
        }
        root = r.root;
        count += r.delta;
        assert.deepEqual(walk(root).entries, modelEntries(model));
        assert.equal(count, model.size, 'entry count');
        if (sorted.some((k) => batch.get(k) === null)) assert.equal(smallRebuiltLeaves(root, ctx.txn), 0, 'a small rebuilt leaf beside a sibling');
      });
    }),
    { numRuns: 200 },
  );
});

test('deleting every key leaves no tree, and deleting all but one key of a deep tree leaves one leaf', () => {
  let root: Node | null = null;
  const all = Array.from({ length: 600 }, (_, i) => i);
  root = mergeSortedWrites(root, writes(all.map((k) => [key(k), value(k, 0)])), context()).root;
  assert.ok(walk(root).depth >= 2, 'the tree is deep enough to prove anything');
  const keepOne = mergeSortedWrites(root, writes(all.filter((k) => k !== 321).map((k) => [key(k), null])), context());
  assert.equal(keepOne.delta, -599);
  assert.ok(keepOne.root?.isLeaf, 'the root collapsed to a leaf');
  assert.deepEqual(walk(keepOne.root).entries, [[hex(key(321)), hex(value(321, 0))]]);
  const none = mergeSortedWrites(root, writes(all.map((k) => [key(k), null])), context());
  assert.equal(none.root, null);
  assert.equal(none.delta, -600);
});
