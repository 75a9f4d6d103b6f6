/**
 * One writer per directory. The lock itself is proper-lockfile's (an atomic mkdir of `<dir>/lock`,
 * its mtime refreshed by a timer); beside it, `<dir>/lock.owner` records who holds it: pid, host,
 * the process start time (so a recycled pid is not mistaken for the holder) and a random token.
 *
 * When a holder may be presumed gone (the takeover rule):
 * - Holder on this host: only when it is provably dead, that is no process has its pid, or the
 *   process with that pid started at another time (/proc/<pid>/stat field 22). The lock's age never
 *   matters: a live holder whose event loop is blocked for minutes keeps its lock. proper-lockfile's
 *   own age-based takeover is switched off (stale = Infinity) for that reason.
 * - Holder on another host (a shared file system): its pid cannot be checked, so it is presumed gone
 *   only when the lock directory has not been refreshed for the stale threshold (10 s, or
 *   `REDB_LOCK_STALE_MS`). The holder refreshes it every half threshold while its event loop runs.
 * - A lock with no owner record and no intent naming a live process (see below): by age, likewise.
 *
 * Fencing (what a holder that lost its lock can still do): the holder keeps `lock.owner` open.
 * Every takeover removes that file (or renames another over it) before it removes the lock
 * directory, so the holder's open file then has no links. {@link DirLock.check} — one fstat, no
 * path lookup — throws LockedError (reason 'lost') from then on. The database checks before
 * appending a commit, before acknowledging one (after its fsync), and before checkpoints and
 * compactions. The guarantee this gives:
 *
 *   A commit is acknowledged only if, after its WAL record was durable, the holder's owner file was
 *   still linked. A taker removes that file before it reads the WAL, so it reads every acknowledged
 *   commit: a takeover never loses an acknowledged commit, and once the removal is visible to the
 *   holder, the holder acknowledges nothing more.
 *
 * What it cannot give: a holder descheduled (SIGSTOP, a paused VM) between a check and the write
 * right after it can make that one write after a takeover. On one host a live holder is never taken
 * over, so this needs someone to delete the lock files by hand; across hosts it needs a stall longer
 * than the stale threshold, which is why two hosts should never share a store (docs/operations.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import lockfile from 'proper-lockfile';
import { AccessDeniedError, ioError, LockedError } from '../errors.js';

interface OwnerRecord {
  pid: number;
  host: string;
  startTime: string | null;
  token: string;
}

const DEFAULT_STALE_MS = 10_000;

/**
 * How long a lock held from another host (or by nobody on record) may go unrefreshed before it is
 * presumed abandoned. `REDB_LOCK_STALE_MS` overrides it: on shared file systems where the hosts'
 * clocks drift, and in tests that must not wait 10 s.
 */
export function staleThresholdMs(): number {
  const v = Number(process.env.REDB_LOCK_STALE_MS);
  return Number.isInteger(v) && v >= 100 ? v : DEFAULT_STALE_MS;
}

/** Start time of a process from /proc (Linux), or null where unavailable. */
function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) follows the parenthesised command name, which may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

const OWN_START_TIME = processStartTime(process.pid);

function isAlive(owner: OwnerRecord): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.startTime === null) return true;
  const now = processStartTime(owner.pid);
  return now === null || now === owner.startTime;
}

function isThisProcess(owner: OwnerRecord): boolean {
  return owner.pid === process.pid && owner.host === os.hostname() && owner.startTime === OWN_START_TIME;
}

function readOwner(file: string): OwnerRecord | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<OwnerRecord>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.token !== 'string') return null;
    return { pid: parsed.pid, host: parsed.host, startTime: parsed.startTime ?? null, token: parsed.token };
  } catch {
    return null;
  }
}

/** Milliseconds since the lock directory was last refreshed, or null if it is gone. */
function lockAge(lockPath: string): number | null {
  try {
    return Date.now() - fs.statSync(lockPath).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * The intents (`lock.owner.<token>`) in `dir` other than the one with token `own`; with
 * `unfinished`, also those still being written (`.tmp`), which a process killed mid-way leaves.
 */
function readIntents(dir: string, own: string, unfinished = false): { file: string; record: OwnerRecord }[] {
  const out: { file: string; record: OwnerRecord }[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.startsWith('lock.owner.') || name.startsWith(`lock.owner.${own}`) || (!unfinished && name.endsWith('.tmp'))) continue;
    const file = path.join(dir, name);
    const record = readOwner(file);
    // An intent that does not parse names nobody, so it cannot prove the holder gone: it counts as
    // a live one, and only an old enough lock is taken over.
    out.push({ file, record: record ?? { pid: -1, host: '', startTime: null, token: '' } });
  }
  return out;
}

function lockError(operation: string, file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new AccessDeniedError(operation, file, err, 'the store needs write access to its directory to take the writer lock (open with readOnly: true to only read)');
  }
  return ioError(operation, file, err);
}

/** A held directory lock. */
export class DirLock {
  private released = false;
  /** Why the lock is no longer ours (taken over, removed, or proper-lockfile lost it); null while held. */
  compromised: Error | null = null;

  private constructor(
    readonly dir: string,
    private readonly release: () => void,
    private readonly ownerFile: string,
    private readonly token: string,
    /** Our `lock.owner`, kept open: its link count drops to 0 when a taker removes or replaces it. */
    private readonly ownerFd: number,
  ) {}

  /** Takes the lock on `dir` (which must exist), or throws LockedError naming the holder. */
  static acquire(dir: string): DirLock {
    const lockPath = path.join(dir, 'lock');
    const ownerFile = path.join(dir, 'lock.owner');
    const staleMs = staleThresholdMs();
    let holder: DirLock | null = null;
    const opts = {
      lockfilePath: lockPath,
      realpath: false,
      // Never age-based inside proper-lockfile: who may be presumed gone is decided below.
      stale: Infinity,
      update: Math.max(1000, Math.floor(staleMs / 2)),
      onCompromised: (err: Error) => {
        if (holder) holder.compromised ??= err;
      },
      // proper-lockfile removes the lock directory on release and at process exit; once the lock
      // was taken over, that directory is the new holder's and must be left alone.
      fs: {
        ...fs,
        rmdir: (p: fs.PathLike, cb: (err: NodeJS.ErrnoException | null) => void) => (holder && !holder.stillOurs() ? cb(null) : fs.rmdir(p, cb)),
        rmdirSync: (p: fs.PathLike) => {
          if (!holder || holder.stillOurs()) fs.rmdirSync(p);
        },
      },
    };
    // The owner record is written before the lock is taken, as an intent `lock.owner.<token>`, and
    // renamed to `lock.owner` once the lock is held. A process killed between taking the lock and
    // that rename has still left a record naming it, so its lock is taken over like any other.
    const token = crypto.randomBytes(8).toString('hex');
    const record: OwnerRecord = { pid: process.pid, host: os.hostname(), startTime: OWN_START_TIME, token };
    const intent = `${ownerFile}.${token}`;
    try {
      // Written whole or not at all, so that an intent always names its process.
      fs.writeFileSync(`${intent}.tmp`, JSON.stringify(record));
      fs.renameSync(`${intent}.tmp`, intent);
    } catch (err) {
      fs.rmSync(`${intent}.tmp`, { force: true });
      throw lockError('write lock owner', intent, err);
    }
    let fd: number | null = null;
    try {
      for (let attempt = 0; ; attempt++) {
        let release: () => void;
        try {
          release = lockfile.lockSync(dir, opts);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw lockError('lock', lockPath, err);
          const owner = readOwner(ownerFile);
          if (owner && isThisProcess(owner)) throw new LockedError(dir, owner.pid, owner.host, 'same-process');
          const stale = (lockAge(lockPath) ?? 0) > staleMs;
          if (attempt < 3 && owner && (owner.host === os.hostname() ? !isAlive(owner) : stale)) {
            // Re-read right before removing, so a holder that took over meanwhile is not evicted. The
            // owner file goes first: that is what fences the old holder (see the header).
            if (readOwner(ownerFile)?.token === owner.token) {
              fs.rmSync(ownerFile, { force: true });
              fs.rmSync(lockPath, { recursive: true, force: true });
            }
            continue;
          }
          if (attempt < 3 && !owner) {
            // Locked, but nobody recorded as holder: the holder is one of the processes that left an
            // intent. If every one of them is provably gone, so is the holder; with none at all (a
            // lock made by hand, or by a process that wrote no intent), only an old lock is.
            const others = readIntents(dir, token);
            const gone = others.length > 0 ? others.every((o) => o.record.host === os.hostname() && !isAlive(o.record)) : stale;
            if (gone) {
              if (!fs.existsSync(ownerFile)) {
                for (const o of others) fs.rmSync(o.file, { force: true });
                fs.rmSync(lockPath, { recursive: true, force: true });
              }
              continue;
            }
          }
          throw new LockedError(dir, owner?.pid, owner?.host);
        }
        try {
          fd = fs.openSync(intent, 'r');
          fs.renameSync(intent, ownerFile);
        } catch (err) {
          release();
          throw lockError('write lock owner', ownerFile, err);
        }
        // Intents of processes that died before taking the lock are litter; clear them.
        for (const o of readIntents(dir, token, true)) {
          if (o.record.host === os.hostname() && !isAlive(o.record)) fs.rmSync(o.file, { force: true });
        }
        holder = new DirLock(dir, release, ownerFile, token, fd);
        return holder;
      }
    } catch (err) {
      if (fd !== null) fs.closeSync(fd);
      fs.rmSync(intent, { force: true });
      throw err;
    }
  }

  /**
   * Throws LockedError (reason 'lost') unless this process still holds the lock: proper-lockfile
   * has not reported it compromised, and our owner file is still linked. One fstat.
   */
  check(): void {
    if (!this.compromised && !this.released) {
      try {
        if (fs.fstatSync(this.ownerFd).nlink === 0) this.compromised = new Error(`${this.ownerFile} was removed or replaced by another process`);
      } catch (err) {
        this.compromised = err as Error;
      }
    }
    if (this.compromised) throw this.lostError();
  }

  /** True while the lock is ours (see {@link check}); never throws. */
  stillOurs(): boolean {
    try {
      this.check();
      return true;
    } catch {
      return false;
    }
  }

  /** The error every call gets once the lock is lost. */
  lostError(): LockedError {
    const now = readOwner(this.ownerFile);
    const taker = now && now.token !== this.token ? now : null;
    const why = taker ? `process ${taker.pid} on ${taker.host} holds it now` : (this.compromised?.message ?? 'it was released');
    return new LockedError(this.dir, taker?.pid, taker?.host, 'lost', why);
  }

  /** Releases the lock; safe to call twice. A lost lock is left to its new holder. */
  unlock(): void {
    if (this.released) return;
    const ours = this.stillOurs();
    this.released = true;
    if (!ours) {
      fs.closeSync(this.ownerFd);
      return;
    }
    if (readOwner(this.ownerFile)?.token === this.token) fs.rmSync(this.ownerFile, { force: true });
    try {
      this.release();
    } catch {
      // Already released or compromised: nothing of ours is left to remove.
    }
    fs.closeSync(this.ownerFd);
  }
}
