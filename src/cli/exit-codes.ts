/**
 * The exit codes of `redb-audit`, defined once. They are part of the CLI's contract (scripts and
 * monitoring branch on them), so a code is never renumbered or reused; docs/cli.md lists them.
 *
 * 0, 1 and 2 grade an outcome (clean / warnings / corruption or data loss, and healthy / degraded /
 * unhealthy, as health() grades a store); the codes from 3 up say why a command could not run at all.
 */
import { CommanderError } from 'commander';
import { ErrorCode, LockedError, RedbError } from '../errors.js';

export const ExitCode = {
  /** Done; the store is clean / healthy. */
  Ok: 0,
  /** Done with warnings: rejected input lines, a degraded store, verify warnings. */
  Warnings: 1,
  /** Corruption or data loss found, or the store is unhealthy. */
  Corruption: 2,
  /** The store is held by another process (the message names its pid). */
  Locked: 3,
  /** An argument, option, event or file content was not acceptable; nothing was written. */
  Validation: 4,
  /** The encryption key is missing or wrong. */
  EncryptionKey: 5,
  /** The store, backup or file named does not exist. */
  NotFound: 6,
  /** The operating system refused a file operation (permissions, disk full, I/O error). */
  Io: 7,
  /** A cross-shard write committed in some shards only (the message says which). */
  PartialCommit: 8,
  /** The store was opened read-only and the operation writes (a bug in a verb's access mode). */
  ReadOnly: 9,
  /** The command line itself is wrong: unknown verb or option, missing argument (commander's errors). */
  Usage: 64,
  /** A bug: an error redb-audit did not expect. Run with --verbose and report the stack. */
  Internal: 70,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for an error thrown by a verb. */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof CommanderError) return ExitCode.Usage;
  if (!(err instanceof RedbError)) return ExitCode.Internal;
  switch (err.code) {
    case ErrorCode.Locked:
      return ExitCode.Locked;
    case ErrorCode.Validation:
    case ErrorCode.Format:
      return ExitCode.Validation;
    case ErrorCode.EncryptionKey:
      return ExitCode.EncryptionKey;
    case ErrorCode.NotFound:
      return ExitCode.NotFound;
    case ErrorCode.Corruption:
      return ExitCode.Corruption;
    case ErrorCode.Io:
    case ErrorCode.DiskFull:
    case ErrorCode.AccessDenied:
      return ExitCode.Io;
    case ErrorCode.PartialCommit:
      return ExitCode.PartialCommit;
    case ErrorCode.ReadOnly:
      return ExitCode.ReadOnly;
    default:
      return ExitCode.Internal;
  }
}

/** The one line printed on stderr for an error: what was wrong and what to do. */
export function errorLine(err: unknown): string {
  if (err instanceof LockedError) {
    const who = err.holderPid !== undefined ? `process ${err.holderPid}${err.holderHost ? ` on ${err.holderHost}` : ''}` : 'another process';
    return `error: the store is held by ${who}, and this command writes; stop that process or run this command inside it (read-only verbs such as query, stats and verify work while it runs)`;
  }
  if (err instanceof RedbError) return `error: ${oneLine(err.message)}`;
  if (err instanceof Error) return `error: unexpected ${err.name}: ${oneLine(err.message)} (a bug in redb-audit; run again with --verbose and report the stack)`;
  return `error: unexpected failure: ${String(err)}`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
