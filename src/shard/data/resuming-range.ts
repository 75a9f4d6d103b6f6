/**
 * A range scan of a read-only database that survives the writer beside it. A read-only open pins
 * nothing in the writer's process, so a checkpoint there may reuse a block that the scan's snapshot
 * still reaches; the block then fails its parent's checksum (CorruptionError) and is never returned.
 * This iterator answers such a failure by opening a fresh snapshot and continuing strictly after the
 * last key it returned, with the limit reduced by what it already returned.
 *
 * Invariants: every entry returned was read and checksum-verified from some durable snapshot; keys
 * come out strictly ordered (ascending, or descending with `reverse`), never repeated; the limit is
 * never exceeded. What changes across a resume is only which commits the rest of the scan sees: the
 * part after the resume point reflects a newer snapshot. A failure that persists over `attempts`
 * fresh snapshots is real damage and is rethrown.
 */
import { CorruptionError } from '../../errors.js';
import type { Entry } from './tree-read.js';
import type { RangeOptions } from '../validate.js';

/** Fresh snapshots tried, after the first, before a failure is reported as corruption. */
const RESUMES = 3;

export class ResumingRange implements IterableIterator<Entry> {
  private inner: IterableIterator<Entry>;
  private last: Buffer | null = null;
  private returned = 0;
  private resumes = 0;
  /** `returned` when the last resume happened: more since then is progress. */
  private returnedAtResume = 0;

  constructor(
    private readonly opts: RangeOptions,
    /** Opens a scan with these options on the latest snapshot. */
    private readonly scan: (opts: RangeOptions) => IterableIterator<Entry>,
    /** Replaces the database's snapshot with a fresh one. */
    private readonly refresh: () => void,
  ) {
    this.inner = scan(opts);
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Entry> {
    for (;;) {
      try {
        const r = this.inner.next();
        if (!r.done) {
          this.last = r.value.key;
          this.returned++;
        }
        return r;
      } catch (err) {
        if (!(err instanceof CorruptionError)) throw err;
        if (this.returned > this.returnedAtResume) this.resumes = 0;
        if (this.resumes >= RESUMES) throw err;
        this.resumes++;
        this.returnedAtResume = this.returned;
        this.refresh();
        this.inner = this.scan(this.rest());
      }
    }
  }

  return(): IteratorResult<Entry> {
    this.inner.return?.();
    return { done: true, value: undefined };
  }

  /** The options of the part not yet returned. */
  private rest(): RangeOptions {
    const o = { ...this.opts };
    if (o.limit !== undefined) o.limit = Math.max(0, o.limit - this.returned);
    if (this.last === null) return o;
    if (o.reverse) {
      delete o.lte;
      o.lt = this.last;
    } else {
      delete o.gte;
      o.gt = this.last;
    }
    return o;
  }
}
