/**
 * Open snapshots by the transaction id they read, to find the oldest one still open.
 *
 * Nearly every snapshot reads the newest commit and is closed before the next one opens (a query),
 * so the count of one transaction is kept in two fields beside the map: a Map whose only entry is
 * added and deleted per snapshot rehashes each time (about 0.8 µs, a fifth of a small query).
 * A transaction's count is its `hot` count (when it is the hot one) plus its map entry.
 */
export class ReaderRegistry {
  private readonly counts = new Map<number, number>();
  private hotTxn = -1;
  private hotCount = 0;

  add(txn: number): void {
    if (txn === this.hotTxn || this.hotCount === 0) {
      this.hotTxn = txn;
      this.hotCount++;
      return;
    }
    this.counts.set(txn, (this.counts.get(txn) ?? 0) + 1);
  }

  remove(txn: number): void {
    if (txn === this.hotTxn && this.hotCount > 0) {
      this.hotCount--;
      return;
    }
    const n = this.counts.get(txn) ?? 0;
    if (n <= 1) this.counts.delete(txn);
    else this.counts.set(txn, n - 1);
  }

  /** The oldest transaction an open snapshot reads, or Infinity when none is open. */
  oldest(): number {
    let min = this.hotCount > 0 ? this.hotTxn : Infinity;
    for (const txn of this.counts.keys()) if (txn < min) min = txn;
    return min;
  }

  /** The newest transaction an open snapshot reads, or -Infinity when none is open. */
  newest(): number {
    let max = this.hotCount > 0 ? this.hotTxn : -Infinity;
    for (const txn of this.counts.keys()) if (txn > max) max = txn;
    return max;
  }

  get size(): number {
    let n = this.hotCount;
    for (const c of this.counts.values()) n += c;
    return n;
  }
}
