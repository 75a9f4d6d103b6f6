/**
 * Runs the real, built `redb-audit` binary (dist/cli/main.js) for the CLI tests. The first call in a
 * test process builds dist/ when any source file is newer than the binary (CI builds before testing,
 * so there it never does); a directory lock keeps two test files from building at once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BIN = path.join(ROOT, 'dist', 'cli', 'main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  return !fs.existsSync(BIN) || fs.statSync(BIN).mtimeMs < newestSource(path.join(ROOT, 'src'));
}

let built = false;

/** Builds dist/ if it is older than src/. */
export function ensureBuilt(): void {
  if (built) return;
  const lockDir = path.join(os.tmpdir(), `redb-audit-build-${Buffer.from(ROOT).toString('hex').slice(-24)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch {
      // Another test process is building; a lock older than two minutes is left from a killed one.
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > 120_000) fs.rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (isStale()) {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
    }
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
  built = true;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
}

function childEnv(extra: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, REDB_AUDIT_DIR: undefined, REDB_AUDIT_KEY: undefined, FORCE_COLOR: '0' };
  for (const [k, v] of Object.entries(extra ?? {})) env[k] = v;
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

/** Runs `redb-audit ...args` to completion. */
export function cli(args: string[], options: RunOptions = {}): CliRun {
  ensureBuilt();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `redb-audit ...args` without waiting (serve, --watch). */
export function cliSpawn(args: string[], options: RunOptions = {}): ChildProcess {
  ensureBuilt();
  return spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: childEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A fresh temporary directory, removed after the test. */
export function tmp(t: TestContext, name = 'cli'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `redb-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Parses the one JSON document a `--json` run printed (and nothing else) on stdout. */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** A 32-byte key as 64 hex digits, written to `file`. */
export function writeKey(file: string, byte: number): string {
  fs.writeFileSync(file, Buffer.alloc(32, byte).toString('hex'));
  return file;
}
