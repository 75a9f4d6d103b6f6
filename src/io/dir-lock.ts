/**
 * One writer per directory. The lock itself is proper-lockfile's (an atomic mkdir of `<dir>/lock`,
 * kept fresh by a timer); beside it, `<dir>/lock.owner` records who holds it: pid, host, the process
 * start time (so a recycled pid is not mistaken for the holder) and a random token.
 *
 * proper-lockfile alone would make the next opener wait out the stale timeout after a crash. Here,
 * a lock whose recorded holder is on this host and provably gone (no such pid, or a different start
 * time) is taken over at once. Holders on other hosts (shared file systems) are never presumed dead;
 * their locks go stale the proper-lockfile way, by age.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import lockfile from 'proper-lockfile';
import { ioError, LockedError } from '../errors.js';

interface OwnerRecord {
  pid: number;
  host: string;
  startTime: string | null;
  token: string;
}

const STALE_MS = 10_000;

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

function readOwner(file: string): OwnerRecord | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<OwnerRecord>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string' || typeof parsed.token !== 'string') return null;
    return { pid: parsed.pid, host: parsed.host, startTime: parsed.startTime ?? null, token: parsed.token };
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
    // a live one, and only an old enough lock (proper-lockfile's stale timeout) is taken over.
    out.push({ file, record: record ?? { pid: -1, host: '', startTime: null, token: '' } });
  }
  return out;
}

/** A held directory lock. */
export class DirLock {
  private released = false;
  /** Set when proper-lockfile finds the lock was taken from us; writes must stop. */
  compromised: Error | null = null;

  private constructor(
    readonly dir: string,
    private readonly release: () => void,
    private readonly ownerFile: string,
    private readonly token: string,
  ) {}

  /** Takes the lock on `dir` (which must exist), or throws LockedError naming the holder. */
  static acquire(dir: string): DirLock {
    const lockPath = path.join(dir, 'lock');
    const ownerFile = path.join(dir, 'lock.owner');
    let holder: DirLock | null = null;
    const opts = {
      lockfilePath: lockPath,
      realpath: false,
      stale: STALE_MS,
      onCompromised: (err: Error) => {
        if (holder) holder.compromised = err;
      },
    };
    // The owner record is written before the lock is taken, as an intent `lock.owner.<token>`, and
    // renamed to `lock.owner` once the lock is held. A process killed between taking the lock and
    // that rename has still left a record naming it, so its lock is taken over like any other.
    const token = crypto.randomBytes(8).toString('hex');
    const record: OwnerRecord = { pid: process.pid, host: os.hostname(), startTime: processStartTime(process.pid), token };
    const intent = `${ownerFile}.${token}`;
    try {
      // Written whole or not at all, so that an intent always names its process.
      fs.writeFileSync(`${intent}.tmp`, JSON.stringify(record));
      fs.renameSync(`${intent}.tmp`, intent);
    } catch (err) {
      fs.rmSync(`${intent}.tmp`, { force: true });
      throw ioError('write lock owner', intent, err);
    }
    try {
      for (let attempt = 0; ; attempt++) {
        let release: () => void;
        try {
          release = lockfile.lockSync(dir, opts);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw ioError('lock', lockPath, err);
          const owner = readOwner(ownerFile);
          if (attempt < 3 && owner && owner.host === os.hostname() && !isAlive(owner)) {
            // Re-read right before removing, so a holder that took over meanwhile is not evicted.
            if (readOwner(ownerFile)?.token === owner.token) {
              fs.rmSync(ownerFile, { force: true });
              fs.rmSync(lockPath, { recursive: true, force: true });
            }
            continue;
          }
          if (attempt < 3 && !owner) {
            // Locked, but nobody recorded as holder: the holder is one of the processes that left an
            // intent. If every one of them is provably gone, so is the holder.
            const others = readIntents(dir, token);
            if (others.length > 0 && others.every((o) => o.record.host === os.hostname() && !isAlive(o.record))) {
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
          fs.renameSync(intent, ownerFile);
        } catch (err) {
          release();
          throw ioError('write lock owner', ownerFile, err);
        }
        // Intents of processes that died before taking the lock are litter; clear them.
        for (const o of readIntents(dir, token, true)) {
          if (o.record.host === os.hostname() && !isAlive(o.record)) fs.rmSync(o.file, { force: true });
        }
        holder = new DirLock(dir, release, ownerFile, token);
        return holder;
      }
    } catch (err) {
      fs.rmSync(intent, { force: true });
      throw err;
    }
  }

  /** Releases the lock; safe to call twice. */
  unlock(): void {
    if (this.released) return;
    this.released = true;
    if (readOwner(this.ownerFile)?.token === this.token) fs.rmSync(this.ownerFile, { force: true });
    try {
      this.release();
    } catch {
      // Already released or compromised: nothing of ours is left to remove.
    }
  }
}
