import fs from 'node:fs';
import type { FileHandle, FileIO, OpenMode, PendingDatasync } from './file-io.js';
import { prepareSyncThread, startDatasync } from './sync-thread.js';

const FLAGS: Record<OpenMode, string> = { read: 'r', readWrite: 'r+', create: 'a+', createNew: 'wx+' };

class NodeFileHandle implements FileHandle {
  private fd: number;

  constructor(
    readonly path: string,
    mode: OpenMode,
  ) {
    // 'a+' would force appends on Linux; open with O_CREAT through 'a' then reopen as 'r+' instead.
    if (mode === 'create') fs.closeSync(fs.openSync(path, 'a'));
    this.fd = fs.openSync(path, mode === 'create' ? 'r+' : FLAGS[mode]);
    if (mode !== 'read') prepareSyncThread();
  }

  read(buf: Uint8Array, offset: number, length: number, position: number): number {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, offset + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  write(buf: Uint8Array, offset: number, length: number, position: number): void {
    let done = 0;
    while (done < length) done += fs.writeSync(this.fd, buf, offset + done, length - done, position + done);
  }

  datasync(): void {
    fs.fdatasyncSync(this.fd);
  }

  datasyncAsync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  startDatasync(): PendingDatasync {
    return startDatasync(this.fd);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** The real file system, through `node:fs`. */
export class NodeFileIO implements FileIO {
  open(path: string, mode: OpenMode): FileHandle {
    return new NodeFileHandle(path, mode);
  }

  exists(path: string): boolean {
    return fs.existsSync(path);
  }

  mkdirp(path: string): void {
    fs.mkdirSync(path, { recursive: true });
  }

  readdir(path: string): string[] {
    return fs.readdirSync(path).sort();
  }

  fileSize(path: string): number {
    return fs.statSync(path).size;
  }

  unlink(path: string): void {
    fs.unlinkSync(path);
  }

  removeTree(path: string): void {
    fs.rmSync(path, { recursive: true, force: true });
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  syncDir(path: string): void {
    const fd = fs.openSync(path, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  freeBytes(path: string): number {
    const s = fs.statfsSync(path);
    return s.bavail * s.bsize;
  }
}

/** The process-wide real file system. */
export const nodeFileIO: FileIO = new NodeFileIO();
