/**
 * `redb-audit bench [--quick]`: runs the audit benchmark (bench/audit.ts: the audit store against
 * lmdb-js, better-sqlite3 and classic-level doing the same indexed work on the same seeded events,
 * answers cross-checked) and prints its table. The benchmark and its peers are development
 * dependencies, so this verb works in a clone of the repository (after npm install), not in an
 * installed package; there it says so.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import { intArg } from '../args.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';

interface BenchOptions {
  quick?: boolean;
  events?: number;
  rounds?: number;
  engines?: string;
}

const ENGINES = ['redb', 'lmdb', 'sqlite', 'level'];

function enginesArg(value: string): string {
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !ENGINES.includes(n));
  if (names.length === 0 || bad.length > 0) throw new InvalidArgumentError(`expected a comma-separated subset of ${ENGINES.join(',')}, got "${value}"`);
  return names.join(',');
}

/** The repository root, two levels above this file's cli/ directory (src/ or dist/ alike). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function register(program: Command): void {
  program
    .command('bench')
    .description('the audit benchmark against lmdb-js, better-sqlite3 and classic-level; prints the table (needs a clone of the repository)')
    .option('--quick', '20,000 events, one round')
    .option('--events <N>', 'events to ingest (default 200,000)', intArg(1000))
    .option('--rounds <N>', 'rounds, the engine order rotating (default 3; 1 with --quick)', intArg(1, 20))
    .option('--engines <list>', 'comma-separated subset of redb,lmdb,sqlite,level', enginesArg)
    .addHelpText('after', '\nExamples:\n  $ redb-audit bench --quick\n  $ redb-audit bench --events 50000 --engines redb,sqlite')
    .action(verbAction((ctx, opts: BenchOptions) => bench(ctx, opts)));
}

async function bench(ctx: CliContext, opts: BenchOptions): Promise<ExitCodeValue> {
  const script = `${ROOT}bench/audit.ts`;
  if (!fs.existsSync(script) || !fs.existsSync(`${ROOT}node_modules/tsx`)) {
    throw new NotFoundError(`the benchmark (${script}) and its peers come with the source repository, not the installed package; clone it, run npm install, then npm run bench:audit`);
  }
  const args = ['--import', 'tsx', script];
  if (opts.quick) args.push('--quick');
  if (opts.events !== undefined) args.push('--events', String(opts.events));
  if (opts.rounds !== undefined) args.push('--rounds', String(opts.rounds));
  if (opts.engines !== undefined) args.push('--engines', opts.engines);
  // The benchmark prints its own table; with --json it goes to stderr so stdout stays machine output.
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', ctx.json ? 'pipe' : 'inherit', 'inherit'] });
  if (ctx.json) child.stdout!.pipe(process.stderr);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (ctx.json) ctx.result({ ok: code === 0, exitCode: code }, () => []);
  return code === 0 ? ExitCode.Ok : ExitCode.Internal;
}
