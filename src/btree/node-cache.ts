/**
 * Cache of decoded clean nodes, keyed by block offset within one page file. Eviction is CLOCK
 * (second chance): a lookup sets the node's `hot` flag; the sweep clears it once and evicts nodes
 * that are still cold at the next pass. The byte budget is shared by every file of a shard.
 *
 * The budget counts what cached nodes keep alive: a leaf a fold packed into a shared slab (leaf.ts)
 * keeps the whole slab, so the slab is charged once, whole, from the first of its leaves cached until
 * the last one leaves (LeafSlab). A node's slab never changes while it is cached (cached nodes are
 * stored, so no transaction edits them).
 *
 * Correctness does not depend on this cache: a node evicted here is re-read from its block. A block
 * is only rewritten after no snapshot can reach it, and the checkpoint that rewrites it replaces the
 * entry, so a cached node never stands for different bytes than its offset holds.
 */
import { nodeMemorySize, type Node } from './node.js';
import { retainedDropped } from '../util/retained-memory.js';

/** Bytes caching `node` would add to the budget: its slab too when no leaf of that is cached yet. */
function chargeFor(node: Node): number {
  const slab = node.isLeaf ? node.slab : null;
  return nodeMemorySize(node) + (slab !== null && slab.cached === 0 ? slab.bytes : 0);
}

/** Bytes allowed for decoded nodes, and hit statistics, shared across a shard's files. */
export class CacheBudget {
  used = 0;
  hits = 0;
  misses = 0;

  constructor(public limit: number) {}
}

export class NodeCache {
  private readonly map = new Map<number, Node>();

  constructor(private budget: CacheBudget) {}

  /**
   * Moves this cache off the shared budget onto a private one of `limit` bytes: for the cache of a
   * file that a compaction replaced, still read by old snapshots.
   */
  detach(limit: number): void {
    this.clear();
    this.budget = new CacheBudget(limit);
  }

  get(offset: number): Node | undefined {
    const node = this.map.get(offset);
    if (node) {
      node.hot = true;
      this.budget.hits++;
    } else {
      this.budget.misses++;
    }
    return node;
  }

  put(offset: number, node: Node): void {
    const old = this.map.get(offset);
    if (old) {
      this.release(old);
      this.map.delete(offset);
    }
    this.map.set(offset, node);
    this.charge(node);
    if (this.budget.used > this.budget.limit) this.sweep();
  }

  /**
   * Adds a node decoded from its block only when no node is cached for `offset` and it fits below
   * the sweep's target without evicting anything: for reads that decoded a block anyway (verify)
   * and whose node would otherwise be thrown away. Such a node is cold, so a sweep evicts it first.
   */
  offer(offset: number, node: Node): void {
    if (this.map.has(offset)) return;
    if (this.budget.used + chargeFor(node) > this.budget.limit * 0.9) return;
    node.hot = false;
    this.map.set(offset, node);
    this.charge(node);
  }

  delete(offset: number): void {
    const old = this.map.get(offset);
    if (old) {
      this.release(old);
      this.map.delete(offset);
    }
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    for (const node of this.map.values()) this.release(node);
    this.map.clear();
  }

  /** Evicts cold nodes until usage is 90% of the limit; each node gets at most one second chance. */
  private sweep(): void {
    const target = this.budget.limit * 0.9;
    let steps = this.map.size * 2;
    for (const [offset, node] of this.map) {
      if (this.budget.used <= target || steps-- <= 0) break;
      this.map.delete(offset);
      if (node.hot) {
        node.hot = false;
        this.map.set(offset, node);
      } else {
        this.release(node);
      }
    }
  }

  private charge(node: Node): void {
    this.budget.used += nodeMemorySize(node);
    const slab = node.isLeaf ? node.slab : null;
    if (slab !== null && slab.cached++ === 0) {
      slab.chargedTo = this.budget;
      this.budget.used += slab.bytes;
    }
  }

  private release(node: Node): void {
    this.budget.used -= nodeMemorySize(node);
    const slab = node.isLeaf ? node.slab : null;
    if (slab !== null && --slab.cached === 0) {
      // The budget that charged the slab: a detached cache's nodes may share a slab with this one's.
      slab.chargedTo!.used -= slab.bytes;
      slab.chargedTo = null;
      retainedDropped(slab.bytes);
    }
  }
}
