import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { buildProgram } from '../../src/cli/program.js';
import { cli, ROOT, tmp } from './harness.js';
import { childArgs } from '../support/child-script.js';

const VERB_NAMES = ['init', 'ingest', 'query', 'export', 'verify', 'repair', 'backup', 'restore', 'list-backups', 'cleanup-backups', 'compact', 'rotate-key', 'purge-expired', 'erase-subject', 'verify-export', 'stats', 'health', 'serve', 'forward', 'bench', 'demo'];

test('a write verb on a store another process holds fails with exit 3, naming that process, in one line', async (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const holder = spawn(process.execPath, childArgs(path.join(ROOT, 'test/support/hold-lock-child.ts'), dir, 'manager'), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
  const r = cli(['compact', '--dir', dir]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, new RegExp(`^error: the store is held by process ${holder.pid}`));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('usage errors exit 64 with one line; --help and --version exit 0', () => {
  const unknown = cli(['frobnicate']);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const missing = cli(['backup']);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /missing required argument 'dest'/);
  const help = cli(['--help']);
  assert.equal(help.code, 0);
  for (const verb of VERB_NAMES) assert.match(help.stdout, new RegExp(`\\n  ${verb} `), verb);
  const verbHelp = cli(['query', '--help']);
  assert.equal(verbHelp.code, 0);
  assert.match(verbHelp.stdout, /Examples?:\n {2}\$ redb-audit query/);
  assert.match(cli(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
});

// Each verb's help text is rendered in this process (the binary prints the same text: the spawned
// `query --help` above shows the path end to end), one spawn per verb costing a second or more.
test('every verb has help text with an example', () => {
  const program = buildProgram('0.0.0');
  assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...VERB_NAMES].sort());
  for (const cmd of program.commands) {
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s) });
    cmd.outputHelp();
    assert.match(text, /Examples?:\n {2}\$ (openssl|redb-audit|npm start)/, `${cmd.name()} --help has an example`);
  }
});

test('--verbose adds the stack to an error; without it the error is one line', (t) => {
  const dir = path.join(tmp(t), 'none');
  const plain = cli(['stats', '--dir', dir]);
  assert.equal(plain.code, 6);
  assert.equal(plain.stderr.trim().split('\n').length, 1);
  assert.match(plain.stderr, /redb-audit init --dir/);
  const verbose = cli(['stats', '--dir', dir, '--verbose']);
  assert.equal(verbose.code, 6);
  assert.match(verbose.stderr, /\n\s+at /);
});
