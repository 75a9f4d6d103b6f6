/**
 * The `redb-audit` command line: the global options and the verbs, one file each under verbs/. This
 * file owns only the assembly and how commander's own errors (usage) become exit code 64.
 */
import { Command, CommanderError } from 'commander';
import { DEFAULT_DIR, ENV_DIR, ENV_KEY } from './context.js';
import { ExitCode } from './exit-codes.js';
import { VERBS } from './verbs/index.js';

export const PROGRAM_NAME = 'redb-audit';

export function buildProgram(version: string): Command {
  const program = new Command(PROGRAM_NAME);
  program
    .description('Operate a redb-audit store: a tamper-evident, crash-safe audit-event store embedded in your Node.js process.')
    .version(version, '-V, --version', 'print the version')
    .option('--dir <baseDir>', `the store's directory (default: $${ENV_DIR}, else ./${DEFAULT_DIR})`)
    .option('--json', 'machine output on stdout (JSON, or NDJSON for streams), nothing else there')
    .option('--quiet', 'no notes or progress bars; results and errors only')
    .option('--verbose', 'add stack traces to errors')
    .option('--key-file <path>', `file holding the 32-byte encryption key, 64 hex digits or base64 (default: $${ENV_KEY})`)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${str.trimEnd()} (see ${PROGRAM_NAME} --help)\n`) })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  $ ${PROGRAM_NAME} init --dir ./audit --shards 4
  $ ${PROGRAM_NAME} ingest events.ndjson --dir ./audit
  $ ${PROGRAM_NAME} query --dir ./audit --tenant acme --outcome failure --from 2026-03-01
  $ ${PROGRAM_NAME} verify --dir ./audit --json

Exit codes: 0 ok, 1 warnings/degraded/rejected lines, 2 corruption/unhealthy, 3 store locked by another
process, 4 invalid input, 5 encryption key, 6 not found, 7 I/O, 8 partial commit, 64 usage, 70 internal.
See docs/cli.md.`,
    );
  for (const register of VERBS) register(program);
  return program;
}

/** Parses `argv` and runs the verb; resolves when the verb is done (serve: when it has started). */
export async function runCli(argv: readonly string[], version: string): Promise<void> {
  const program = buildProgram(version);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exit code 0; everything else commander rejects is usage.
      process.exitCode = err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
      return;
    }
    throw err;
  }
}
