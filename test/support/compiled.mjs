/**
 * The project compiled to JavaScript by tsc, for running tests without a TypeScript loader in
 * every process: src/ and test/ (and what they import) with the project's own tsconfig.json, into a
 * directory under the OS temp dir named after this checkout (<OUT>/src/..., <OUT>/test/...), with a
 * node_modules link back to the checkout's so that packages resolve as they do for the sources.
 *
 * ensureCompiled() compiles when any source is newer than the last compilation (about two seconds;
 * a directory lock keeps two processes from compiling at once). Type errors do not stop it: tsc
 * emits regardless (npm run typecheck reports them), and tsx never checked types either.
 *
 * Used by `npm test` (scripts/test.mjs loads every test file through compiled-loader.mjs) and by
 * tests that start child processes (child-script.ts); both run the same code tsx would, as tsc
 * strips the types of the same sources, the way it builds dist/.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
const TAG = crypto.createHash('sha256').update(ROOT).digest('hex').slice(0, 16);
export const OUT = path.join(os.tmpdir(), `redb-audit-test-js-${TAG}`);
/** Written last by a compilation; its mtime says how fresh the tree is. */
const STAMP = path.join(OUT, '.compiled');
const LOCK = `${OUT}.lock`;
/** A compilation takes seconds; a lock this old was left by a killed process. */
const LOCK_STALE_MS = 120_000;

let fresh = false;

function newestSource() {
  let newest = fs.statSync(path.join(ROOT, 'tsconfig.json')).mtimeMs;
  for (const top of ['src', 'test', 'fixtures', 'scripts']) {
    const dir = path.join(ROOT, top);
    if (!fs.existsSync(dir)) continue;
    for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile() && e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
    }
  }
  return newest;
}

function isStale() {
  return !fs.existsSync(STAMP) || fs.statSync(STAMP).mtimeMs < newestSource();
}

function compile() {
  // Into a fresh directory, then swapped in: a process starting meanwhile reads a whole tree.
  const next = `${OUT}.next-${process.pid}`;
  fs.rmSync(next, { recursive: true, force: true });
  // Readable by all: some tests run their child as an unprivileged user.
  fs.mkdirSync(next, { mode: 0o755 });
  fs.chmodSync(next, 0o755);
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.json'), '--noEmit', 'false', '--outDir', next, '--sourceMap', '--declaration', 'false'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  if (!fs.existsSync(path.join(next, 'src', 'index.js'))) throw new Error(`compiling the project for the tests failed (tsc exit ${r.status}):\n${r.stdout}${r.stderr}`);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(next, 'node_modules'));
  fs.writeFileSync(path.join(next, '.compiled'), `${ROOT}\n`);
  const old = `${OUT}.old-${process.pid}`;
  if (fs.existsSync(OUT)) fs.renameSync(OUT, old);
  fs.renameSync(next, OUT);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Compiles the project unless the compiled tree is newer than every source. */
export function ensureCompiled() {
  if (fresh) return;
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch {
      // Another process is compiling; a lock older than that is left from a killed one.
      try {
        if (Date.now() - fs.statSync(LOCK).mtimeMs > LOCK_STALE_MS) fs.rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (isStale()) compile();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
  fresh = true;
}

/** The compiled JavaScript of `file`, a .ts file of the checkout (compiling first if needed). */
export function compiledPath(file) {
  const rel = path.relative(ROOT, path.resolve(file));
  if (rel.startsWith('..') || path.isAbsolute(rel) || !rel.endsWith('.ts')) throw new Error(`${file} is not a .ts file of ${ROOT}`);
  ensureCompiled();
  return path.join(OUT, rel.replace(/\.ts$/, '.js'));
}
