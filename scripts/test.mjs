// Runs every test/**/*.test.ts with node:test. Node 20's --test does not expand glob patterns
// itself, so the files are listed here; extra arguments pass through to node --test.
//
// The test files run as the JavaScript tsc compiles from them (test/support/compiled-loader.mjs,
// which compiles the project into a temporary directory first when a source changed), not through
// tsx: tsx's loader cost each of the hundred-odd test processes about half a CPU-second to start,
// a sixth of the suite. Each module keeps its .ts URL and stack traces name the .ts lines. Any one
// file still runs through tsx: node --import tsx --test test/path/file.test.ts
//
// A file whose process hangs is timed out and run once more. The loader's module.register() hooks
// run on a thread of their own, whose start can deadlock now and then in Node 20-22 (a test
// process sat at 0 CPU seconds until killed, once in many runs); node --test's --test-timeout
// ends such a process (its file reported `not ok N - <file>` with failureType
// 'testTimeoutFailure'). Only files that failed that way, and nothing else failed, are rerun: a
// test that fails or times out inside a running file fails the suite as it is.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Longest a test (or a test file's process) may run; the slowest test takes about 20 s. */
const TIMEOUT_MS = 240_000;

const root = path.resolve(import.meta.dirname, '..');
const files = fs
  .readdirSync(path.join(root, 'test'), { recursive: true })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => path.join('test', f))
  .sort();
const loader = pathToFileURL(path.join(root, 'test', 'support', 'compiled-loader.mjs')).href;

/** Runs node --test over `list`, echoing its report; resolves with its exit code and the report. */
function run(list) {
  const args = ['--import', loader, '--test', '--test-concurrency=2', `--test-timeout=${TIMEOUT_MS}`, ...process.argv.slice(2), ...list];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['inherit', 'pipe', 'inherit'] });
  // Kept as bytes until the end: a chunk may end inside a character.
  const chunks = [];
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    chunks.push(chunk);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, report: Buffer.concat(chunks).toString('utf8') })));
}

/**
 * The test files of `report` whose process timed out as a whole, or null when anything else
 * failed too (then nothing is rerun).
 */
function hungFiles(report) {
  const lines = report.split('\n');
  const hung = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^not ok \d+ - (.+)$/.exec(lines[i]);
    if (!m) continue;
    let timedOut = false;
    for (let j = i + 1; j < lines.length && lines[j].startsWith('  '); j++) if (lines[j].trim() === "failureType: 'testTimeoutFailure'") timedOut = true;
    const file = m[1].trim();
    if (!timedOut || !file.endsWith('.test.ts') || !fs.existsSync(file)) return null;
    hung.push(path.relative(root, file));
  }
  return hung;
}

let { code, report } = await run(files);
const hung = code === 0 ? null : hungFiles(report);
if (hung !== null && hung.length > 0) {
  console.log(`\nscripts/test.mjs: ${hung.join(', ')} timed out as a whole (its process hung); running ${hung.length === 1 ? 'it' : 'them'} once more\n`);
  ({ code } = await run(hung));
}
process.exit(code);
