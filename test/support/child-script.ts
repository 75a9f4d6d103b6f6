/**
 * How tests start their child processes (the writers they SIGKILL, the lock holders, the live
 * agents): as the JavaScript tsc compiles from src/ and test/, not through tsx.
 *
 * Why: tsx's loader costs every process it starts about half a second and most of a CPU-second
 * before the first line of the script runs, and the suite starts some fifty children (a dozen for
 * the SIGKILL test alone). Compiled, a child is at work in a third of the time. The code is the
 * same: tsc strips the types from the same sources with the project's own tsconfig.json, as it
 * does for dist/, which the CLI tests run.
 *
 * The first call in a test process compiles the whole project (src/ and test/, about two seconds)
 * into a directory under the OS temp dir named after this checkout, when any source there is newer
 * than the last compilation; a directory lock keeps two test files from compiling at once. The
 * compiled tree gets a node_modules link back to the checkout's, so packages resolve as they do for
 * the sources. Type errors do not stop the compilation (tsc emits regardless; `npm run typecheck`
 * reports them). Child stack traces name the compiled files; NODE_OPTIONS=--enable-source-maps
 * maps them back to the TypeScript (tsc writes the maps).
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const TAG = crypto.createHash('sha256').update(ROOT).digest('hex').slice(0, 16);
/** The compiled tree: <OUT>/src/..., <OUT>/test/... */
const OUT = path.join(os.tmpdir(), `redb-audit-test-js-${TAG}`);
/** Written last by a compilation; its mtime says how fresh the tree is. */
const STAMP = path.join(OUT, '.compiled');
const LOCK = `${OUT}.lock`;
/** A compilation takes seconds; a lock this old was left by a killed process. */
const LOCK_STALE_MS = 120_000;

let fresh = false;

function newestSource(): number {
  let newest = fs.statSync(path.join(ROOT, 'tsconfig.json')).mtimeMs;
  for (const top of ['src', 'test']) {
    for (const e of fs.readdirSync(path.join(ROOT, top), { recursive: true, withFileTypes: true })) {
      if (e.isFile() && e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
    }
  }
  return newest;
}

function isStale(): boolean {
  return !fs.existsSync(STAMP) || fs.statSync(STAMP).mtimeMs < newestSource();
}

function compile(): void {
  // Into a fresh directory, then swapped in: a child another test file is starting keeps reading
  // a whole tree.
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
  if (!fs.existsSync(path.join(next, 'src', 'index.js'))) throw new Error(`compiling the test children failed (tsc exit ${r.status}):\n${r.stdout}${r.stderr}`);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(next, 'node_modules'));
  fs.writeFileSync(path.join(next, '.compiled'), `${ROOT}\n`);
  const old = `${OUT}.old-${process.pid}`;
  if (fs.existsSync(OUT)) fs.renameSync(OUT, old);
  fs.renameSync(next, OUT);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Compiles the project for children unless the compiled tree is newer than every source. */
function ensureCompiled(): void {
  if (fresh) return;
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch {
      // Another test process is compiling; a lock older than that is left from a killed one.
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

/**
 * The arguments after process.execPath that run `script` (a .ts file under test/) with `args`:
 * `spawn(process.execPath, childArgs(CHILD, dir))` where a test would have run
 * `node --import tsx CHILD dir`.
 */
export function childArgs(script: string, ...args: string[]): string[] {
  const rel = path.relative(ROOT, path.resolve(script));
  if (rel.startsWith('..') || !rel.startsWith(`test${path.sep}`) || !rel.endsWith('.ts')) throw new Error(`${script} is not a .ts file under test/`);
  ensureCompiled();
  return [path.join(OUT, rel.replace(/\.ts$/, '.js')), ...args];
}
