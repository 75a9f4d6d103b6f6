/**
 * Writing files so that they are on stable storage before anything names them: the backup manifest
 * is written last and atomically (temporary file, fsync, rename, directory fsync), so a backup or
 * restore cut short by a crash never looks complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ioError } from '../errors.js';
import { nodeFileIO } from './node-file-io.js';

/** Makes a directory's entries (creations, renames) durable. */
export function fsyncDir(dir: string): void {
  try {
    nodeFileIO.syncDir(dir);
  } catch (err) {
    throw ioError('fsync directory', dir, err);
  }
}

/** Writes `bytes` to `file` (created or replaced, with `mode` when created), fsynced. */
export function writeFileSynced(file: string, bytes: Uint8Array, mode = 0o666): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'w', mode);
  } catch (err) {
    throw ioError('create', file, err);
  }
  try {
    for (let o = 0; o < bytes.length; ) o += fs.writeSync(fd, bytes, o, bytes.length - o);
    fs.fsyncSync(fd);
  } catch (err) {
    throw ioError('write', file, err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Like {@link writeFileSynced}, with the write and fsync off the event loop (for larger files). */
export async function writeFileSyncedAsync(file: string, bytes: Uint8Array): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'w');
  } catch (err) {
    throw ioError('create', file, err);
  }
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    throw ioError('write', file, err);
  } finally {
    await handle.close();
  }
}

/** Replaces `file` with `bytes` atomically and durably: temporary file, fsync, rename, directory fsync. */
export function writeFileAtomic(file: string, bytes: Uint8Array, mode = 0o666): void {
  const tmp = `${file}.tmp`;
  writeFileSynced(tmp, bytes, mode);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    throw ioError('rename', tmp, err);
  }
  fsyncDir(path.dirname(file));
}
