// Runs every test/**/*.test.ts with node:test. Node 20's --test does not expand glob patterns
// itself, so the files are listed here; extra arguments pass through to node --test.
//
// The test files run as the JavaScript tsc compiles from them (test/support/compiled-loader.mjs,
// which compiles the project into a temporary directory first when a source changed), not through
// tsx: tsx's loader cost each of the hundred-odd test processes about half a CPU-second to start,
// a sixth of the suite. Each module keeps its .ts URL and stack traces name the .ts lines. Any one
// file still runs through tsx: node --import tsx --test test/path/file.test.ts
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');
const files = fs
  .readdirSync(path.join(root, 'test'), { recursive: true })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => path.join('test', f))
  .sort();
const loader = pathToFileURL(path.join(root, 'test', 'support', 'compiled-loader.mjs')).href;
const args = ['--import', loader, '--test', '--test-concurrency=2', ...process.argv.slice(2), ...files];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
