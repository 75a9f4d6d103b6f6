/**
 * Every code block of README.md runs as written. ```ts blocks are written, one file each, inside the
 * package (so `import ... from 'redb-audit'` resolves to the built package by self-reference) and run
 * with tsx in a fresh temporary directory. ```sh blocks run with bash -e, `redb-audit` on the PATH
 * (the built binary) and the repository's fixtures/ beside them. The one block that installs and
 * runs the project (npm install, npm start, npm test) is what CI itself does, so it is only checked
 * to be that block.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ensureBuilt, ROOT } from './cli/harness.js';

/** tsx, by URL: the blocks run from a temporary directory, where a bare 'tsx' would not resolve. */
const TSX = import.meta.resolve('tsx');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = [...README.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m, i) => ({ lang: m[1]!, code: m[2]!, n: i + 1, line: README.slice(0, m.index).split('\n').length }));

function tempDir(t: import('node:test').TestContext, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `redb-readme-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the README has TypeScript and shell blocks, and only one block installs the project', () => {
  assert.ok(blocks.filter((b) => b.lang === 'ts').length >= 4);
  assert.equal(blocks.filter((b) => b.lang === 'sh' && /npm install/.test(b.code)).length, 1);
  for (const b of blocks) assert.ok(['ts', 'sh'].includes(b.lang), `block ${b.n} (line ${b.line}) is \`\`\`${b.lang}; every block must be one the test runs`);
});

for (const b of blocks.filter((x) => x.lang === 'ts')) {
  test(`README block ${b.n} (TypeScript, line ${b.line}) runs`, (t) => {
    ensureBuilt();
    const scratch = fs.mkdtempSync(path.join(ROOT, '.readme-test-'));
    t.after(() => fs.rmSync(scratch, { recursive: true, force: true }));
    const file = path.join(scratch, `block-${b.n}.ts`);
    fs.writeFileSync(file, b.code);
    const cwd = tempDir(t, `ts${b.n}`);
    const r = spawnSync(process.execPath, ['--import', TSX, file], { cwd, encoding: 'utf8', env: { ...process.env, NODE_PATH: undefined } });
    assert.equal(r.status, 0, `block ${b.n} at line ${b.line} failed:\n${r.stdout}\n${r.stderr}`);
  });
}

for (const b of blocks.filter((x) => x.lang === 'sh' && !/npm install/.test(x.code))) {
  test(`README block ${b.n} (shell, line ${b.line}) runs`, (t) => {
    ensureBuilt();
    const cwd = tempDir(t, `sh${b.n}`);
    fs.cpSync(path.join(ROOT, 'fixtures'), path.join(cwd, 'fixtures'), { recursive: true });
    const bin = path.join(cwd, '.bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'redb-audit'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, REDB_AUDIT_DIR: '', REDB_AUDIT_KEY: '' };
    delete (env as Record<string, string | undefined>).REDB_AUDIT_DIR;
    delete (env as Record<string, string | undefined>).REDB_AUDIT_KEY;
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', b.code], { cwd, encoding: 'utf8', env });
    assert.equal(r.status, 0, `block ${b.n} at line ${b.line} failed:\n${r.stdout}\n${r.stderr}`);
  });
}
