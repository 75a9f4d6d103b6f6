/**
 * Retry pacing for the forwarder: exponential backoff with full jitter, and the test of which errors
 * are worth retrying at all.
 *
 * Invariants: a delay is never above `maxMs`; after reset() the next delay is again at most
 * `initialMs`. Only failures that a later attempt can cure (a lost or refused connection, a server
 * shutting down or starting, a serialization failure or deadlock, resource exhaustion) are
 * transient; errors about the data or about the store are not, since retrying them would loop forever.
 */
import { RedbError } from '../errors.js';

/** Exponential backoff: attempt n waits a uniformly random time in [0, min(max, initial * 2^n)]. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Consecutive failures since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, and counts one more failure. */
  next(): number {
    const cap = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * cap);
  }

  reset(): void {
    this.attempt = 0;
  }
}

// SQLSTATE classes and codes a retry can cure: 08 connection exception, 53 insufficient resources,
// 57P01-57P03 admin/crash shutdown and "cannot connect now" (a server starting up), 58 system error,
// 40001 serialization failure, 40P01 deadlock.
const TRANSIENT_CLASSES = new Set(['08', '53', '58']);
const TRANSIENT_CODES = new Set(['57P01', '57P02', '57P03', '40001', '40P01', '55P03']);
const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** Whether `err` (from pg or the network) may succeed if the same work is tried again later. */
export function isTransient(err: unknown): boolean {
  if (err instanceof RedbError) return false;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code !== undefined) {
    if (NETWORK_ERRNOS.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_CLASSES.has(code.slice(0, 2)) || TRANSIENT_CODES.has(code);
  }
  // pg reports a dropped socket or a timed-out connect as a plain Error without a code.
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|Client was closed|not queryable|socket/i.test(message);
}
