/** Open snapshots by the transaction id they read, to find the oldest one still open. */
export class ReaderRegistry {
  private readonly counts = new Map<number, number>();

  add(txn: number): void {
    this.counts.set(txn, (this.counts.get(txn) ?? 0) + 1);
  }

  remove(txn: number): void {
    const n = this.counts.get(txn) ?? 0;
    if (n <= 1) this.counts.delete(txn);
    else this.counts.set(txn, n - 1);
  }

  /** The oldest transaction an open snapshot reads, or Infinity when none is open. */
  oldest(): number {
    let min = Infinity;
    for (const txn of this.counts.keys()) if (txn < min) min = txn;
    return min;
  }

  /** The newest transaction an open snapshot reads, or -Infinity when none is open. */
  newest(): number {
    let max = -Infinity;
    for (const txn of this.counts.keys()) if (txn > max) max = txn;
    return max;
  }

  get size(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }
}
