/**
 * Child for the lock crash test: opens the store given as argv[2], but SIGKILLs itself at the
 * narrowest point of taking the lock, after the lock directory exists and before the file naming
 * the holder (`lock.owner`) is in place. What it leaves behind is exactly what a kill -9 landing in
 * that instant leaves. The engine's code runs unmodified; only fs.renameSync is wrapped, to find
 * the instant.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Database } from '../../src/shard/database.js';

const rename = fs.renameSync;
fs.renameSync = (from: fs.PathLike, to: fs.PathLike): void => {
  if (String(to).endsWith(`${path.sep}lock.owner`)) process.kill(process.pid, 'SIGKILL');
  rename(from, to);
};
Database.open(process.argv[2]!);
// Not reached: the kill lands inside open.
process.stdout.write('opened\n');
