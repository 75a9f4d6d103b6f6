// Runs every test/**/*.test.ts with node:test through tsx. Node 20's --test does not expand glob
// patterns itself, so the files are listed here; extra arguments pass through to node --test.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const files = fs
  .readdirSync(path.join(root, 'test'), { recursive: true })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => path.join('test', f))
  .sort();
const args = ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(2), ...files];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
