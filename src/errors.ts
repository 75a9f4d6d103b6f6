/**
 * Every error the library throws on purpose is a {@link RedbError} with a stable `code`, so callers can
 * branch on `err.code` (or `instanceof`) rather than on message text. Messages say what was wrong and
 * what to do about it.
 */

/** Stable error codes. Never renumbered or reused; new codes are only ever added. */
export const ErrorCode = {
  Validation: 'REDB_VALIDATION',
  Corruption: 'REDB_CORRUPTION',
  Closed: 'REDB_CLOSED',
  TransactionClosed: 'REDB_TX_CLOSED',
  Io: 'REDB_IO',
  DiskFull: 'REDB_DISK_FULL',
  Locked: 'REDB_LOCKED',
  EncryptionKey: 'REDB_ENCRYPTION_KEY',
  Format: 'REDB_FORMAT',
  PartialCommit: 'REDB_PARTIAL_COMMIT',
  ReadOnly: 'REDB_READ_ONLY',
  AccessDenied: 'REDB_ACCESS_DENIED',
  NotFound: 'REDB_NOT_FOUND',
  Forward: 'REDB_FORWARD',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error thrown by redb-audit. */
export class RedbError extends Error {
  /** Stable machine-readable code, one of {@link ErrorCode}. */
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument, option, key, value or name was not acceptable. Nothing was written. */
export class ValidationError extends RedbError {
  constructor(message: string) {
    super(ErrorCode.Validation, message);
  }
}

/**
 * Stored bytes failed a checksum, an authentication tag or a structural check. The data was not
 * returned. `file` and `offset` locate the damage; run `verify()` for a full report and `repair` to
 * salvage what is intact.
 */
export class CorruptionError extends RedbError {
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, what: string) {
    super(
      ErrorCode.Corruption,
      `corrupt data in ${file} at offset ${offset}: ${what}. The bytes were not returned; ` +
        'run verify() for a full report and restore from a backup or run repair to salvage intact records',
    );
    this.file = file;
    this.offset = offset;
  }
}

/** The database, snapshot or store was used after it was closed. */
export class ClosedError extends RedbError {
  constructor(what: string) {
    super(ErrorCode.Closed, `${what} is closed; open it again before using it`);
  }
}

/** A transaction object was used outside the callback that received it. */
export class TransactionClosedError extends RedbError {
  constructor() {
    super(
      ErrorCode.TransactionClosed,
      'this transaction has already ended; use the transaction only inside its write() callback',
    );
  }
}

/** The operating system refused a file operation. `errno` is the system error code, such as `EIO`. */
export class IoError extends RedbError {
  readonly errno: string | undefined;
  readonly path: string;

  constructor(operation: string, path: string, cause: unknown, code: ErrorCodeValue = ErrorCode.Io) {
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(
      code,
      `${operation} failed on ${path}${errno ? ` (${errno})` : ''}: ${(cause as Error | undefined)?.message ?? String(cause)}. ` +
        'Nothing acknowledged before this error was lost; check the disk and retry',
      { cause },
    );
    this.errno = errno;
    this.path = path;
  }
}

/** The disk is full (ENOSPC or EDQUOT). The failed commit wrote nothing; free space and retry. */
export class DiskFullError extends IoError {
  constructor(operation: string, path: string, cause: unknown) {
    super(operation, path, cause, ErrorCode.DiskFull);
  }
}

/**
 * Why a {@link LockedError} was raised:
 * - `'held'`: another live process holds the store's lock.
 * - `'same-process'`: this very process already has the store open (opened twice).
 * - `'lost'`: this process held the lock and no longer does (it was taken over or removed); it
 *   acknowledges no further commit and must be closed and reopened.
 */
export type LockedReason = 'held' | 'same-process' | 'lost';

/** The store's lock is held elsewhere, or was lost by this process; see {@link LockedReason}. */
export class LockedError extends RedbError {
  readonly holderPid: number | undefined;
  readonly holderHost: string | undefined;
  readonly reason: LockedReason;

  constructor(path: string, holderPid: number | undefined, holderHost: string | undefined, reason: LockedReason = 'held', detail = '') {
    super(ErrorCode.Locked, lockedMessage(path, holderPid, holderHost, reason, detail));
    this.holderPid = holderPid;
    this.holderHost = holderHost;
    this.reason = reason;
  }
}

function lockedMessage(path: string, pid: number | undefined, host: string | undefined, reason: LockedReason, detail: string): string {
  if (reason === 'same-process') {
    return `${path} is already open in this process (pid ${pid}); use the instance that is open, or close it before opening the store again`;
  }
  if (reason === 'lost') {
    return (
      `this process no longer holds the lock on ${path}${detail ? ` (${detail})` : ''}: another process may have opened the store. ` +
      'This commit was not acknowledged and no further commit will be; close this instance and reopen the store once the other process has closed it'
    );
  }
  return (
    `${path} is locked by ${pid !== undefined ? `process ${pid}` : 'another process'}` +
    `${host ? ` on ${host}` : ''}; close the store there first (a lock left by a process ` +
    'that has exited is taken over automatically), or open it with readOnly: true to read alongside'
  );
}

/** A write or maintenance call on a store opened with `readOnly: true`. Nothing was written. */
export class ReadOnlyError extends RedbError {
  constructor(path: string, what: string) {
    super(ErrorCode.ReadOnly, `${what} is not allowed: the store at ${path} was opened read-only; open it without readOnly (which takes the writer lock) to change it`);
  }
}

/**
 * The operating system refused access (EACCES, EPERM or EROFS) to a path the store needs. `path`
 * names it; the message says which access is missing.
 */
export class AccessDeniedError extends IoError {
  constructor(operation: string, path: string, cause: unknown, need: string) {
    super(operation, path, cause, ErrorCode.AccessDenied);
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    this.message = `${operation} failed on ${path}${errno ? ` (${errno})` : ''}: ${need}. Give this user that access (chmod/chown), or choose another path`;
  }
}

/** The encryption key is missing, wrong, or cannot decrypt data written under another key id. */
export class EncryptionKeyError extends RedbError {
  constructor(message: string) {
    super(ErrorCode.EncryptionKey, message);
  }
}

/** The files were written by an incompatible format version, or are not redb-audit files at all. */
export class FormatError extends RedbError {
  constructor(message: string) {
    super(ErrorCode.Format, message);
  }
}

/**
 * A batch spanning several shards failed in some of them. Each shard's part is atomic: the parts in
 * `committedShards` are durable, the part in each of `failedShards` wrote nothing, and the parts in
 * `notAttemptedShards` were not tried. `cause` is the first failure.
 */
export class PartialCommitError extends RedbError {
  readonly committedShards: number[];
  readonly failedShards: number[];
  readonly notAttemptedShards: number[];

  constructor(committed: number[], failed: number[], notAttempted: number[], cause: unknown) {
    super(
      ErrorCode.PartialCommit,
      `a cross-shard batch committed in shard(s) [${committed.join(', ')}] but failed in shard(s) [${failed.join(', ')}]` +
        `${notAttempted.length ? ` and was not tried in [${notAttempted.join(', ')}]` : ''}: ${(cause as Error | undefined)?.message ?? String(cause)}. ` +
        'Retry the failed and untried parts; the committed parts are durable',
      { cause },
    );
    this.committedShards = committed;
    this.failedShards = failed;
    this.notAttemptedShards = notAttempted;
  }
}

/** Why a forwarder stopped: see {@link ForwardError}. */
export type ForwardFailure = 'feed-diverged' | 'rejected' | 'retries-exhausted';

/**
 * Forwarding to PostgreSQL stopped and will not resume on its own. `reason` says why:
 * `feed-diverged` (PostgreSQL's cursor is past the store's feed, as after restoring an older backup),
 * `rejected` (PostgreSQL refused the data or the schema), `retries-exhausted` (the server stayed
 * unreachable).
 */
export class ForwardError extends RedbError {
  readonly reason: ForwardFailure;

  constructor(reason: ForwardFailure, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Forward, message, options);
    this.reason = reason;
  }
}

/** A store, backup or file that an operation needs does not exist where it was looked for. */
export class NotFoundError extends RedbError {
  constructor(message: string) {
    super(ErrorCode.NotFound, message);
  }
}

/** Wraps a failed system call in the matching typed error (DiskFullError for ENOSPC/EDQUOT). */
export function ioError(operation: string, path: string, cause: unknown): IoError {
  if (cause instanceof IoError) return cause;
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return new DiskFullError(operation, path, cause);
  return new IoError(operation, path, cause);
}
