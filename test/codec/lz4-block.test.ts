// The LZ4 block codec (src/codec/lz4-block.ts): round trips over inputs that exercise every length
// and offset form, the encoder rules every decoder relies on, blocks exchanged both ways with the
// lz4-napi addon the store used to write them with (a dev dependency kept for this check alone), and
// damaged blocks refused with a CodecDecodeError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { CodecDecodeError } from '../../src/codec/page-codec.js';
import { createCompressor, Decompressors } from '../../src/codec/compression.js';
import { lz4BlockBound, lz4CompressBlock, lz4DecompressBlock } from '../../src/codec/lz4-block.js';
import { prng as rng } from '../../fixtures/audit-events.js';

const lz4napi = createRequire(import.meta.url)('lz4-napi') as { compressSync(b: Buffer): Buffer; uncompressSync(b: Uint8Array): Buffer };

/** Inputs of every kind a page holds, and the edges of the format. */
function inputs(): [string, Uint8Array][] {
  const r = rng(7);
  const out: [string, Uint8Array][] = [];
  const random = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  for (const n of [0, 1, 5, 12, 13, 14, 17, 64, 255, 300, 4096, 70_000]) {
    out.push([`random ${n}`, random(n)]);
    out.push([`zeros ${n}`, new Uint8Array(n)]);
  }
  // Matches overlapping what they write (offsets 1 to 3), and long ones (lengths past 15 + 255).
  for (const period of [1, 2, 3, 7]) out.push([`period ${period}`, Uint8Array.from({ length: 5000 }, (_, i) => (i % period) * 31)]);
  // Long literal runs between matches (lengths past 15 + 255 + 255), and matches far back (offsets near 65535).
  const far = random(140_000);
  far.set(far.subarray(0, 4000), 65_000);
  far.set(far.subarray(1000, 1600), 131_000);
  out.push(['literal runs and far matches', far]);
  // Text and leaf-like data: repeated keys with counters, a few fields that compress 2:1.
  const words = ['record', 'update', 'tenant', 'actor', 'svc', 'outcome=ok', 'user:', '{"id":', '0001'];
  out.push(['text', new TextEncoder().encode(Array.from({ length: 3000 }, () => words[Math.floor(r() * words.length)]).join(' '))]);
  for (let k = 0; k < 20; k++) {
    const n = 64 + Math.floor(r() * 20_000);
    const b = random(n);
    // Random stretches copied from earlier in the same buffer.
    for (let j = 0; j < 30; j++) {
      const len = 4 + Math.floor(r() * 300);
      const to = Math.floor(r() * n);
      const from = Math.floor(r() * Math.max(1, to));
      if (to + len <= n) b.copyWithin(to, from, from + len);
    }
    out.push([`mixed ${k}`, b]);
  }
  return out;
}

function compress(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(lz4BlockBound(src.length));
  return dst.subarray(0, lz4CompressBlock(src, dst, 0));
}

/** The sequences of a block: each one's literal count, match length (0 for the last) and where its match starts. */
function sequences(block: Uint8Array): { lits: number; match: number; matchAt: number }[] {
  const out: { lits: number; match: number; matchAt: number }[] = [];
  let s = 0;
  let d = 0;
  const more = (n: number) => {
    let b: number;
    do {
      b = block[s++]!;
      n += b;
    } while (b === 255);
    return n;
  };
  for (;;) {
    const token = block[s++]!;
    let lits = token >>> 4;
    if (lits === 15) lits = more(lits);
    s += lits;
    d += lits;
    if (s === block.length) {
      out.push({ lits, match: 0, matchAt: -1 });
      return out;
    }
    s += 2;
    let match = (token & 15) + 4;
    if ((token & 15) === 15) match = more(match);
    out.push({ lits, match, matchAt: d });
    d += match;
  }
}

test('every input comes back byte for byte, and compressible ones shrink', () => {
  for (const [name, src] of inputs()) {
    const block = compress(src);
    assert.ok(block.length <= lz4BlockBound(src.length), name);
    const back = new Uint8Array(src.length);
    lz4DecompressBlock(block, 0, block.length, back);
    assert.deepEqual(back, src, name);
    if (name.startsWith('zeros') && src.length >= 4096) assert.ok(block.length < src.length / 10, `${name}: ${block.length} bytes`);
  }
});

test('blocks keep the rules every decoder relies on: the last 5 bytes literal, no match starting in the last 12', () => {
  for (const [name, src] of inputs()) {
    const seqs = sequences(compress(src));
    assert.ok(seqs.at(-1)!.lits >= Math.min(5, src.length), `${name}: last literals ${seqs.at(-1)!.lits}`);
    for (const q of seqs) if (q.match > 0) assert.ok(q.match >= 4 && q.matchAt + q.match <= src.length - 5 && q.matchAt < src.length - 12, `${name}: match at ${q.matchAt} of ${q.match}`);
  }
});

test('blocks pass both ways between this codec and the lz4-napi addon stores were written with', () => {
  const ours = createCompressor('lz4', 3)!;
  const decompressors = new Decompressors();
  for (const [name, src] of inputs()) {
    if (src.length < 64) continue;
    const mine = ours.compress(src);
    if (mine !== null) assert.deepEqual(new Uint8Array(lz4napi.uncompressSync(mine)), src, `${name}: ours read by lz4-napi`);
    const theirs = lz4napi.compressSync(Buffer.from(src));
    assert.deepEqual(decompressors.decompress(2, theirs, src.length), src, `${name}: lz4-napi's read by ours`);
  }
});

test('a damaged block is refused with a CodecDecodeError, never read past its bytes or to another length', () => {
  const src = new TextEncoder().encode('audit-event;outcome=ok;actor=svc;'.repeat(200));
  const block = compress(src);
  const decode = (b: Uint8Array, n = src.length) => lz4DecompressBlock(b, 0, b.length, new Uint8Array(n));
  const refused = (b: Uint8Array, n?: number) => assert.throws(() => decode(b, n), CodecDecodeError);
  refused(new Uint8Array(0));
  for (let cut = 1; cut < block.length; cut += Math.max(1, Math.floor(block.length / 40))) refused(block.subarray(0, cut));
  refused(block, src.length - 1);
  refused(block, src.length + 1);
  // Offset 0, and an offset reaching before the output's start (each block otherwise the right length).
  lz4DecompressBlock(Uint8Array.of(0x10, 0x41, 0x01, 0x00, 0x00), 0, 5, new Uint8Array(5));
  refused(Uint8Array.of(0x10, 0x41, 0x00, 0x00, 0x00), 5);
  refused(Uint8Array.of(0x10, 0x41, 0x05, 0x00, 0x00), 5);
  // A literal length whose continuation bytes run past the end.
  refused(Uint8Array.of(0xf0, 0xff, 0xff));
  // Every single-byte change either decodes to the same length or is refused: nothing else escapes.
  const r = rng(11);
  for (let k = 0; k < 500; k++) {
    const bad = block.slice();
    const at = Math.floor(r() * bad.length);
    bad[at] = bad[at]! ^ (1 + Math.floor(r() * 255));
    try {
      decode(bad);
    } catch (err) {
      assert.ok(err instanceof CodecDecodeError, String(err));
    }
  }
  // Through the store's decompressor, a length prefix that disagrees with the page's raw length.
  const stored = createCompressor('lz4', 3)!.compress(src)!;
  assert.throws(() => new Decompressors().decompress(2, stored, src.length + 1), CodecDecodeError);
  assert.throws(() => new Decompressors().decompress(2, stored.subarray(0, 3), src.length), CodecDecodeError);
});
