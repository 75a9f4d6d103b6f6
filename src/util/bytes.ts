/** Byte-string helpers used on hot paths; written to avoid allocation. */

/**
 * Bytewise comparison: negative, zero or positive as `a` sorts before, equal to, or after `b`. A JS
 * loop beats `Buffer.compare` here because keys usually differ within the first few bytes and the
 * native call costs more than the whole loop.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when both arrays hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A new buffer of `length` bytes whose contents are whatever the allocator had: for buffers the
 * caller fills completely before reading them or writing them anywhere. A zeroed allocation of a
 * leaf-sized buffer costs 3-9 µs (calloc, then page faults on fresh memory), several times a node
 * copy; this one costs about 1 µs.
 */
export function uninitializedBytes(length: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(buf.buffer, buf.byteOffset, length);
}

/**
 * `b` as a plain Uint8Array over the same memory. Buffers (from native modules and node:crypto) are
 * Uint8Arrays whose `slice()` returns a view instead of a copy: bytes that become tree nodes, which
 * are edited in place, must never be Buffers, or a "copy" taken of a key or hash would change with
 * the node.
 */
export function plainBytes(b: Uint8Array): Uint8Array {
  return Buffer.isBuffer(b) ? new Uint8Array(b.buffer, b.byteOffset, b.length) : b;
}

/**
 * Copies `src` into `dst` at `at`. Keys and small values are copied with a loop: `set` has a fixed
 * cost of about 0.1 µs, more than copying a few dozen bytes one by one.
 */
export function copyInto(dst: Uint8Array, at: number, src: Uint8Array): void {
  const n = src.length;
  if (n > 64) {
    dst.set(src, at);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[i]!;
}

/** A fresh copy that shares no memory with the input. */
export function copyBytes(a: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  out.set(a);
  return out;
}

/** Lowercase hex of the bytes. */
export function toHex(a: Uint8Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.length).toString('hex');
}

/** True when every byte is zero. */
export function isAllZero(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}
