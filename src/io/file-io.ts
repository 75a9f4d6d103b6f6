/**
 * The one seam through which the engine touches the file system. The real implementation
 * ({@link NodeFileIO}) calls `node:fs`; tests substitute a double that fails the Nth write or sync, or
 * tears a write, to prove that the layers above survive it.
 *
 * Contract for every implementation:
 * - Calls are synchronous, except `datasyncAsync`, which lets group commit wait for the disk without
 *   blocking the event loop, and `startDatasync`, whose flush runs while the caller goes on until it
 *   calls `finish()`.
 * - `write` writes all `length` bytes at `position` or throws; a throw may leave any prefix written
 *   (a torn write), never bytes outside the range.
 * - `datasync` makes every byte written before the call durable, including a changed file size.
 * - Failures throw the operating system's error (with `code` such as `EIO` or `ENOSPC`); the layers
 *   above wrap them into typed errors.
 */

/** A flush begun by {@link FileHandle.startDatasync}. */
export interface PendingDatasync {
  /** Waits for the flush; throws what fdatasync threw. Calling it again does nothing. */
  finish(): void;
}

/** How a file is opened. */
export type OpenMode =
  /** Existing file, read only. */
  | 'read'
  /** Existing file, read and write. */
  | 'readWrite'
  /** Read and write, created empty if missing. */
  | 'create'
  /** Read and write, created empty; fails with EEXIST if the path exists. */
  | 'createNew';

/** An open file. Offsets and lengths are byte counts; positions are absolute. */
export interface FileHandle {
  readonly path: string;
  /** Reads up to `length` bytes into `buf[offset..]`; returns the count read (short at end of file). */
  read(buf: Uint8Array, offset: number, length: number, position: number): number;
  /** Writes `buf[offset..offset+length)` at `position`, all of it or throws. */
  write(buf: Uint8Array, offset: number, length: number, position: number): void;
  /** Flushes file data (and the size, if it changed) to stable storage. */
  datasync(): void;
  /** The same as {@link datasync}, off the event loop. */
  datasyncAsync(): Promise<void>;
  /**
   * The same as {@link datasync}, begun now (on another thread where it can be) and completed by
   * `finish()`, which waits for it and throws its error. Nothing else may be called on the handle
   * in between, and `finish()` must be called. Optional: without it, the flush is a `datasync()`
   * when the caller waits.
   */
  startDatasync?(): PendingDatasync;
  /** Current size in bytes. */
  size(): number;
  /** Sets the size, cutting or zero-extending. */
  truncate(length: number): void;
  close(): void;
}

/** File-system operations the engine needs, all synchronous. */
export interface FileIO {
  open(path: string, mode: OpenMode): FileHandle;
  exists(path: string): boolean;
  /** Creates the directory and its parents; no error if it exists. */
  mkdirp(path: string): void;
  /** Names (not paths) of the entries of a directory, sorted. */
  readdir(path: string): string[];
  /** Size in bytes of the file at `path`. */
  fileSize(path: string): number;
  unlink(path: string): void;
  /** Removes a directory and everything below it; no error if missing. */
  removeTree(path: string): void;
  /** Atomically replaces `to` with `from` (same file system). */
  rename(from: string, to: string): void;
  /** Makes a directory's entries (creations, renames, deletions) durable. */
  syncDir(path: string): void;
  /**
   * Bytes an unprivileged writer may still write on the file system holding `path` (statfs
   * `bavail * bsize`). Optional: without it, maintenance that needs head-room asks `fs.statfsSync`.
   */
  freeBytes?(path: string): number;
}
