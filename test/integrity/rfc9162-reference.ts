/**
 * An independent RFC 9162 reference for the tests: the Merkle tree hash, and inclusion and
 * consistency checks written directly from the recursive definitions of section 2.1 (not from the
 * iterative algorithms the production verifier uses), with its own SHA-256 calls.
 */
import { createHash } from 'node:crypto';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const refLeaf = (data: Uint8Array): Buffer => sha(Buffer.from([0]), data);
export const refNode = (l: Uint8Array, r: Uint8Array): Buffer => sha(Buffer.from([1]), l, r);

function split(n: number): number {
  return 2 ** Math.ceil(Math.log2(n) - 1);
}

/** MTH over leaf hashes. */
export function refRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return refNode(refRoot(leaves.slice(0, k)), refRoot(leaves.slice(k)));
}

/** True when `path` (nearest sibling first) leads from leaf m of n to `root`. */
export function refCheckInclusion(m: number, n: number, leaf: Buffer, path: readonly Buffer[], root: Buffer): boolean {
  const p = [...path];
  const up = (m: number, n: number): Buffer | undefined => {
    if (n === 1) return leaf;
    const top = p.pop();
    if (top === undefined) return undefined;
    const k = split(n);
    if (m < k) {
      const l = up(m, k);
      return l && refNode(l, top);
    }
    const r = up(m - k, n - k);
    return r && refNode(top, r);
  };
  if (m < 0 || m >= n) return false;
  const r = up(m, n);
  return r !== undefined && p.length === 0 && r.equals(root);
}

/** True when `proof` shows the tree (m, r1) is a prefix of (n, r2). */
export function refCheckConsistency(m: number, n: number, proof: readonly Buffer[], r1: Buffer, r2: Buffer): boolean {
  if (m === n) return proof.length === 0 && r1.equals(r2);
  if (m === 0) return proof.length === 0;
  const p = [...proof];
  let bad = false;
  const sub = (m: number, n: number, complete: boolean): [Buffer, Buffer] => {
    if (m === n) {
      if (complete) return [r1, r1];
      if (p.length !== 1) bad = true;
      const h = p.pop() ?? Buffer.alloc(32);
      return [h, h];
    }
    const top = p.pop();
    if (top === undefined) {
      bad = true;
      return [Buffer.alloc(32), Buffer.alloc(32)];
    }
    const k = split(n);
    if (m <= k) {
      const [o, nw] = sub(m, k, complete);
      return [o, refNode(nw, top)];
    }
    const [o, nw] = sub(m - k, n - k, false);
    return [refNode(top, o), refNode(top, nw)];
  };
  const [o, nw] = sub(m, n, true);
  return !bad && p.length === 0 && o.equals(r1) && nw.equals(r2);
}
