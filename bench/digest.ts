// A small order-sensitive hash for the correctness cross-check. It only has to tell a wrong
// answer from a right one across engines, so 2 x 32-bit FNV-1a lanes with different offsets suffice.

export class Digest {
  private h1 = 0x811c9dc5;
  private h2 = 0x050c5d1f;

  bytes(data: Uint8Array): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      h1 = Math.imul(h1 ^ b, 0x01000193);
      h2 = Math.imul(h2 ^ b, 0x01000193) ^ (h2 >>> 15);
    }
    // Mix the length in so that [ab][c] and [a][bc] differ.
    this.h1 = Math.imul(h1 ^ data.length, 0x01000193);
    this.h2 = Math.imul(h2 ^ data.length, 0x01000193);
    return this;
  }

  number(n: number): this {
    this.h1 = Math.imul(this.h1 ^ (n >>> 0), 0x01000193);
    this.h2 = Math.imul(this.h2 ^ ((n / 0x1_0000_0000) >>> 0), 0x01000193);
    return this;
  }

  hex(): string {
    return (this.h1 >>> 0).toString(16).padStart(8, '0') + (this.h2 >>> 0).toString(16).padStart(8, '0');
  }
}
