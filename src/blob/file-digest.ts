/**
 * BLAKE3 digests of whole files, for snapshot and backup manifests. Read in 1 MiB pieces so a large blocks file is
 * never held in memory; synchronous, so the shared hasher (blob/blake3.ts) is never interleaved with
 * another caller's use of it.
 */
import fs from 'node:fs';
import { blake3Hex } from './blake3.js';

/** Hex BLAKE3 of the file's bytes. */
export function fileDigest(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    function* pieces(): Generator<Uint8Array> {
      for (let pos = 0; ; ) {
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) return;
        yield buf.subarray(0, n);
        pos += n;
      }
    }
    return blake3Hex(pieces());
  } finally {
    fs.closeSync(fd);
  }
}
