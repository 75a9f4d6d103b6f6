/**
 * The directory a store opens in: checked before anything is written to it, and put back as it was
 * when the open fails.
 *
 * Invariants:
 * - A path that is a file, or under a file, is refused with a ValidationError; one the process may
 *   not create or enter with AccessDeniedError. Never a raw EEXIST / ENOTDIR / EACCES.
 * - A non-empty directory is used only if it already holds a store (`isStore`) or holds nothing
 *   but entries the store itself makes (`isOwnEntry`): the store never writes its files among
 *   someone else's.
 * - {@link StoreDir.undo} removes exactly what appeared since {@link prepareStoreDir}: the top-level
 *   entries that were not there, and the directories it created. What was there is never touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AccessDeniedError, ioError, ValidationError } from '../errors.js';

/** What the directory looked like before an open touched it. */
export interface StoreDir {
  readonly dir: string;
  /** Removes what appeared since {@link prepareStoreDir} (best effort; never throws). */
  undo(keep?: (name: string) => boolean): void;
}

function denied(operation: string, p: string, err: unknown, need: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new AccessDeniedError(operation, p, err, need);
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new ValidationError(`${p} cannot be a store directory: part of the path is a file, not a directory. Pass a directory path`);
  }
  return ioError(operation, p, err);
}

/** Lists `dir`, or null when it does not exist. Throws typed errors for a file or a denied read. */
function listing(dir: string): string[] | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw denied('stat', dir, err, 'the store needs to reach its directory');
  }
  if (!st.isDirectory()) {
    throw new ValidationError(`${dir} is a file, not a directory; a store lives in a directory of its own: pass a new or empty directory, or one that holds a store`);
  }
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    throw denied('list', dir, err, 'the store needs to read its directory');
  }
}

/**
 * Checks `dir` for a store open and creates it if missing (unless `create` is false, for read-only
 * opens, which then throw a ValidationError). `what` names the kind of store in messages.
 */
export function prepareStoreDir(
  dir: string,
  opts: { create: boolean; what: string; isStore: (names: string[]) => boolean; isOwnEntry: (name: string) => boolean },
): StoreDir {
  const before = listing(dir);
  const createdDirs: string[] = [];
  if (before === null) {
    if (!opts.create) throw new ValidationError(`there is no ${opts.what} at ${dir} (the directory does not exist); a read-only open never creates one`);
    // Remember the outermost directory created, so a failed open can take it away again.
    let top = dir;
    while (!fs.existsSync(path.dirname(top)) && path.dirname(top) !== top) top = path.dirname(top);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw denied('create directory', dir, err, 'the parent directory must be writable to create the store directory');
    }
    createdDirs.push(top);
  } else if (!opts.isStore(before)) {
    const foreign = before.filter((n) => !opts.isOwnEntry(n));
    if (foreign.length > 0) {
      const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
      throw new ValidationError(
        `${dir} is not empty and holds no ${opts.what} (it has ${shown}); the store will not write its files among someone else's. ` +
          'Pass a new or empty directory, or the directory of an existing store',
      );
    }
    if (!opts.create) throw new ValidationError(`there is no ${opts.what} in ${dir}; a read-only open never creates one`);
  }
  const had = new Set(before ?? []);
  return {
    dir,
    undo(keep) {
      try {
        if (createdDirs.length > 0) {
          fs.rmSync(createdDirs[0]!, { recursive: true, force: true });
          return;
        }
        for (const name of fs.readdirSync(dir)) {
          if (!had.has(name) && !keep?.(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
        }
      } catch {
        // Best effort: the open's own error is the one to report.
      }
    },
  };
}
