/**
 * Every code block of README.md runs as written. ```ts blocks are written, one file each, inside the
 * package (so `import ... from 'redb-audit'` resolves to the built package by self-reference),
 * compiled to JavaScript by tsc in one go, and each run with node in a fresh temporary directory.
 * (They ran through tsx before, which costs a second of loader start-up per block; like tsx, this
 * does not fail a block for a type error, only for what it does when run.) ```sh blocks run with
 * bash -e, `redb-audit` on the PATH (the built binary) and the repository's fixtures/ beside them.
 * The one block that installs and runs the project (npm install, npm start, npm test) is what CI
 * itself does, so it is only checked to be that block.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ensureBuilt, ROOT } from './cli/harness.js';

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

const tsBlocks = blocks.filter((x) => x.lang === 'ts');
let compiled: { dir: string; tsc: string } | null = null;
after(() => {
  if (compiled) fs.rmSync(compiled.dir, { recursive: true, force: true });
});

/** Writes every TypeScript block to one scratch directory in the package and compiles them there. */
function compileBlocks(): { dir: string; tsc: string } {
  if (compiled) return compiled;
  ensureBuilt();
  const dir = fs.mkdtempSync(path.join(ROOT, '.readme-test-'));
  compiled = { dir, tsc: '' };
  const files = tsBlocks.map((b) => {
    const file = path.join(dir, `block-${b.n}.ts`);
    fs.writeFileSync(file, b.code);
    return file;
  });
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const options = ['--ignoreConfig', '--rootDir', dir, '--outDir', dir, '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node'];
  const r = spawnSync(process.execPath, [tsc, ...options, ...files], { cwd: dir, encoding: 'utf8' });
  if (r.error) throw r.error;
  compiled.tsc = `${r.stdout}${r.stderr}`;
  return compiled;
}

for (const b of tsBlocks) {
  test(`README block ${b.n} (TypeScript, line ${b.line}) runs`, (t) => {
    const { dir, tsc } = compileBlocks();
    const file = path.join(dir, `block-${b.n}.js`);
    assert.ok(fs.existsSync(file), `tsc emitted nothing for block ${b.n} at line ${b.line}:\n${tsc}`);
    const cwd = tempDir(t, `ts${b.n}`);
    const r = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', env: { ...process.env, NODE_PATH: undefined } });
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
