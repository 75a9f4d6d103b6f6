/** Temporary directories for tests, removed when the test ends. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

/** A fresh empty directory under the OS temp dir, deleted after the test. */
export function tmpDir(t: TestContext, name = 'db'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `redb-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Total size of the files below `dir`, in bytes. */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath ?? dir, entry.name)).size;
  }
  return total;
}

/** Copies a directory tree (for corrupting a copy of a pristine store). */
export function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

export const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
