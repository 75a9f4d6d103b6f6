/**
 * BLAKE3 through hash-wasm (5.9 us per 4 KiB here; @noble/hashes took 106 us). hash-wasm only
 * initialises asynchronously, and the engine's API is synchronous, so the hasher is created once with
 * a top-level await when this module loads.
 */
import { createBLAKE3 } from 'hash-wasm';

const hasher = await createBLAKE3();

/** Length of a BLAKE3 digest as stored (256 bits). */
export const BLAKE3_SIZE = 32;

/** The 32-byte BLAKE3 digest of `data` (a fresh array). */
export function blake3(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest('binary');
}

/** Hex BLAKE3 of several chunks fed in order (for files read in pieces). */
export function blake3Hex(chunks: Iterable<Uint8Array>): string {
  hasher.init();
  for (const c of chunks) hasher.update(c);
  return hasher.digest('hex');
}
