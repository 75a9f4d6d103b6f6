/**
 * Whether WAL records are worth compressing. A WAL record lives only until the next checkpoint, so
 * compressing it pays only when it saves a good share of the write: records are compressed while
 * they shrink to at most half their size. After one that shrank less, the next SKIPPED records are
 * stored as they are; then one is tried again, so a change in the data is noticed soon.
 *
 * Measured on this machine (bulk load of the benchmark's half-random values, which compress 1.7x):
 * compressing took 0.3-0.45 µs per put out of about 2.2, and the fdatasync of the larger
 * uncompressed records took no longer. JSON audit events compress 7-10x: those records are always
 * compressed.
 */

/** Records stored uncompressed after one that compressed poorly, before trying again. */
const SKIPPED = 16;
/** A record must compress at least this much (raw / compressed) to keep compressing. */
const MIN_RATIO = 2;

export class RecordCompressionGate {
  private skip = 0;

  /** Whether to try compressing the next record. */
  shouldTry(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /** What compressing a record of `raw` bytes gave (`stored` bytes, or null when it did not shrink). */
  observe(raw: number, stored: number | null): void {
    if (stored === null || stored * MIN_RATIO > raw) this.skip = SKIPPED;
  }
}
