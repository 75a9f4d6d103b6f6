/**
 * A FileIO that fails on purpose: the Nth write (or truncate) or the Nth sync (fdatasync, directory
 * fsync) throws EIO or ENOSPC, or the Nth write is torn (a prefix lands, then EIO). Every other call
 * goes to the real file system, so after a fault the files are exactly what a real failure of that
 * call could leave behind. It can also play a full disk: `diskFull` makes every write and truncate
 * fail with ENOSPC, and `reportedFreeBytes` is what `freeBytes` (statfs) answers. With
 * `crashAfterFault`, every write, truncate and sync after the fault fails too: the files are then what
 * a crash at the faulted call leaves (the process writes nothing more).
 */
import type { FileHandle, FileIO, OpenMode, PendingDatasync } from '../../src/io/file-io.js';
import { nodeFileIO } from '../../src/io/node-file-io.js';
import { once } from '../../src/util/once.js';

export type FaultKind = 'EIO' | 'ENOSPC' | 'torn';
export interface FaultPlan {
  op: 'write' | 'sync';
  /** 1-based index of the failing call of that kind, counted from when the plan is set. */
  nth: number;
  kind: FaultKind;
}

function osError(code: 'EIO' | 'ENOSPC', what: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: injected fault on ${what}`) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

export class FaultyFileIO implements FileIO {
  writes = 0;
  syncs = 0;
  /** How many faults fired. */
  fired = 0;
  private plan: FaultPlan | null = null;
  /** While true, every write and truncate fails with ENOSPC. */
  diskFull = false;
  /** What freeBytes() reports; null asks the real file system. */
  reportedFreeBytes: number | null = null;
  /** Once a fault fired, fail every later write, truncate and sync (EIO). */
  crashAfterFault = false;
  /** While set, every write to a file whose path matches fails (EIO): one failing file, the rest fine. */
  failingPath: RegExp | null = null;

  constructor(private readonly inner: FileIO = nodeFileIO) {}

  /** Arms a fault, restarting the counters; null disarms. */
  arm(plan: FaultPlan | null): void {
    this.plan = plan;
    this.writes = 0;
    this.syncs = 0;
    this.fired = 0;
  }

  /** Called before each write; returns how many bytes to let through before failing, or null. */
  beforeWrite(length: number, what: string, path = ''): number | null {
    this.writes++;
    if (this.failingPath?.test(path)) {
      this.fired++;
      throw osError('EIO', what);
    }
    if (this.crashAfterFault && this.fired > 0) throw osError('EIO', `${what} after a crash`);
    if (this.diskFull) {
      this.fired++;
      throw osError('ENOSPC', what);
    }
    const p = this.plan;
    if (!p || p.op !== 'write' || p.nth !== this.writes) return null;
    this.fired++;
    if (p.kind === 'torn') return Math.floor(length / 2);
    throw osError(p.kind, what);
  }

  beforeSync(what: string): void {
    this.syncs++;
    if (this.crashAfterFault && this.fired > 0) throw osError('EIO', `${what} after a crash`);
    const p = this.plan;
    if (!p || p.op !== 'sync' || p.nth !== this.syncs) return;
    this.fired++;
    throw osError(p.kind === 'ENOSPC' ? 'ENOSPC' : 'EIO', what);
  }

  open(path: string, mode: OpenMode): FileHandle {
    return new FaultyHandle(this.inner.open(path, mode), this);
  }

  exists(path: string): boolean {
    return this.inner.exists(path);
  }

  mkdirp(path: string): void {
    this.inner.mkdirp(path);
  }

  readdir(path: string): string[] {
    return this.inner.readdir(path);
  }

  fileSize(path: string): number {
    return this.inner.fileSize(path);
  }

  unlink(path: string): void {
    this.inner.unlink(path);
  }

  removeTree(path: string): void {
    this.inner.removeTree(path);
  }

  rename(from: string, to: string): void {
    this.inner.rename(from, to);
  }

  syncDir(path: string): void {
    this.beforeSync(`fsync of directory ${path}`);
    this.inner.syncDir(path);
  }

  freeBytes(path: string): number {
    if (this.reportedFreeBytes !== null) return this.reportedFreeBytes;
    return this.inner.freeBytes!(path);
  }
}

class FaultyHandle implements FileHandle {
  constructor(
    private readonly inner: FileHandle,
    private readonly io: FaultyFileIO,
  ) {}

  get path(): string {
    return this.inner.path;
  }

  read(buf: Uint8Array, offset: number, length: number, position: number): number {
    return this.inner.read(buf, offset, length, position);
  }

  write(buf: Uint8Array, offset: number, length: number, position: number): void {
    const allowed = this.io.beforeWrite(length, `write of ${this.path}`, this.path);
    if (allowed === null) {
      this.inner.write(buf, offset, length, position);
      return;
    }
    if (allowed > 0) this.inner.write(buf, offset, allowed, position);
    throw osError('EIO', `torn write of ${this.path}`);
  }

  datasync(): void {
    this.io.beforeSync(`fdatasync of ${this.path}`);
    this.inner.datasync();
  }

  async datasyncAsync(): Promise<void> {
    this.io.beforeSync(`fdatasync of ${this.path}`);
    await this.inner.datasyncAsync();
  }

  startDatasync(): PendingDatasync {
    // The fault (or the sync) happens when the caller waits, as a flush on another thread would report it.
    return { finish: once(() => this.datasync()) };
  }

  size(): number {
    return this.inner.size();
  }

  truncate(length: number): void {
    const allowed = this.io.beforeWrite(0, `truncate of ${this.path}`);
    if (allowed !== null) throw osError('EIO', `truncate of ${this.path}`);
    this.inner.truncate(length);
  }

  close(): void {
    this.inner.close();
  }
}
