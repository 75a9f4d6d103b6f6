/** Temporary directories for tests, removed when the test ends. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

const made: string[] = [];

/**
 * A fresh empty directory under the OS temp dir, deleted when the test file's process exits. Not in
 * an after hook: node:test runs after hooks in registration order, so a removal registered here
 * would run before the test's own `t.after(() => store.close())`, and close would find its lock
 * file gone (a takeover, as far as the fencing can tell). Each test file runs in its own process.
 */
export function tmpDir(_t: TestContext, name = 'db'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `redb-${name}-`));
  if (made.length === 0) process.once('exit', () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  made.push(dir);
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
