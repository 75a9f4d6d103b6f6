/**
 * Child for the WAL-segment crash test: `die-creating-segment-child.ts <dir> <create|truncate>`.
 * Opens the store through a FileIO that passes everything to the real file system but SIGKILLs the
 * process the moment the first new WAL segment file has been created (`create`: an empty file) or
 * sized (`truncate`: full size, all zeros), before its header is written. That is what a kill -9
 * landing inside open's "start a fresh WAL segment" step leaves on disk.
 */
import type { FileHandle, FileIO, OpenMode } from '../../src/io/file-io.js';
import { NodeFileIO } from '../../src/io/node-file-io.js';
import { Database } from '../../src/shard/database.js';

const [dir, point] = process.argv.slice(2);
const real: FileIO = new NodeFileIO();

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL is not deliverable?');
}

const io: FileIO = {
  open(file: string, mode: OpenMode): FileHandle {
    const h = real.open(file, mode);
    if (mode !== 'createNew' || !file.endsWith('.wal')) return h;
    if (point === 'create') die();
    return {
      path: h.path,
      read: (buf, offset, length, position) => h.read(buf, offset, length, position),
      write: (buf, offset, length, position) => h.write(buf, offset, length, position),
      datasync: () => h.datasync(),
      datasyncAsync: () => h.datasyncAsync(),
      startDatasync: () => h.startDatasync!(),
      size: () => h.size(),
      truncate: (length) => {
        h.truncate(length);
        die();
      },
      close: () => h.close(),
    };
  },
  exists: (p) => real.exists(p),
  mkdirp: (p) => real.mkdirp(p),
  readdir: (p) => real.readdir(p),
  fileSize: (p) => real.fileSize(p),
  unlink: (p) => real.unlink(p),
  removeTree: (p) => real.removeTree(p),
  rename: (from, to) => real.rename(from, to),
  syncDir: (p) => real.syncDir(p),
};

Database.open(dir!, { io });
// Not reached: the kill lands inside open.
process.stdout.write('opened\n');
