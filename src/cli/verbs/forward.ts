/**
 * `redb-audit forward --pg <connection string>`: ships every shard's change feed into a PostgreSQL
 * table exactly once (the Forwarder; docs/forwarding.md). With --once it forwards what is committed
 * now and exits 0 (cron, tests); it opens the store read-only then, so it runs beside the agent that
 * owns the store (once the store has its id, which any writable open of the audit store creates). Without --once it tails until SIGINT/SIGTERM; tailing needs to see new commits, so
 * it takes the writer lock (a live agent embeds a Forwarder instead).
 *
 * Exit codes: 0 done; 2 forwarding refused (PostgreSQL's cursor past the store's feed, data or schema
 * refused); 7 PostgreSQL unreachable after the retries; 4 a feed position the store no longer holds.
 */
import type { Command } from 'commander';
import { hasStoreId } from '../../audit/store-id.js';
import { ForwardError, ValidationError } from '../../errors.js';
import { Forwarder, type ForwardReport } from '../../forward/forwarder.js';
import { intArg } from '../args.js';
import { reportError, verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';

/** Environment variable holding the connection string, so a password need not appear in `ps`. */
export const ENV_PG = 'REDB_AUDIT_PG';

interface ForwardOptions {
  pg?: string;
  table: string;
  once?: boolean;
  batchSize: number;
  connections: number;
  maxRetries?: number;
}

export function register(program: Command): void {
  program
    .command('forward')
    .description('forward every committed event into PostgreSQL exactly once (month-partitioned table, cursor beside the rows)')
    .option('--pg <connection string>', `PostgreSQL connection string (default: $${ENV_PG})`)
    .option('--table <name>', 'target table, table or schema.table; created if missing', 'audit_events')
    .option('--once', 'forward everything committed so far, then exit 0 (read-only: works beside a live writer)')
    .option('--batch-size <n>', 'events per PostgreSQL transaction', intArg(1, 50_000), 1000)
    .option('--connections <n>', 'PostgreSQL connections inserting in parallel (at most one per shard)', intArg(1, 64), 2)
    .option('--max-retries <n>', 'consecutive failed attempts before giving up (default: 10 with --once, unlimited otherwise)', intArg(0))
    .addHelpText(
      'after',
      `\nExamples:\n  $ redb-audit forward --dir ./audit --pg postgresql://audit@db.internal/audit --once --json\n  $ ${ENV_PG}=postgresql://audit:secret@db/audit redb-audit forward --dir ./audit --table audit.events`,
    )
    .action(verbAction((ctx, opts: ForwardOptions) => forward(ctx, opts)));
}

function reportLines(r: ForwardReport): string[] {
  return [
    `forwarded ${r.forwarded} event(s) in ${r.batches} batch(es) in ${(r.durationMs / 1000).toFixed(1)} s` +
      `${r.skipped ? `, ${r.skipped} already present` : ''}${r.retries ? `, ${r.retries} retried attempt(s)` : ''}`,
    `cursors: ${r.cursors.map((c, s) => `shard ${s} at ${c}`).join(', ')}`,
  ];
}

function failureCode(err: unknown): ExitCodeValue | undefined {
  if (!(err instanceof ForwardError)) return undefined;
  return err.reason === 'retries-exhausted' ? ExitCode.Io : ExitCode.Corruption;
}

async function forward(ctx: CliContext, opts: ForwardOptions): Promise<ExitCodeValue> {
  const connectionString = opts.pg ?? process.env[ENV_PG];
  if (!connectionString) throw new ValidationError(`give the PostgreSQL connection string with --pg <connection string> or $${ENV_PG}`);
  let store = await ctx.openAudit(opts.once ? 'read' : 'write');
  if (!hasStoreId(store.manager)) {
    // Only a writable open creates the id the cursors are keyed by: take the lock once for it.
    store.close();
    store = await ctx.openAudit('write');
  }
  try {
    const maxRetries = opts.maxRetries ?? (opts.once ? 10 : undefined);
    const forwarder = new Forwarder(store, { connectionString, table: opts.table, batchSize: opts.batchSize, connections: opts.connections, ...(maxRetries !== undefined ? { maxRetries } : {}) });
    try {
      if (opts.once) {
        const report = await forwarder.runOnce();
        ctx.result(report, () => reportLines(report));
        return ExitCode.Ok;
      }
      return await tail(ctx, forwarder);
    } catch (err) {
      const code = failureCode(err);
      if (code === undefined) throw err;
      reportError(err, ctx.verbose);
      return code;
    } finally {
      await forwarder.stop();
    }
  } finally {
    store.close();
  }
}

/** Tails until a signal or a fatal error, noting the lag every 10 s (stderr with --json). */
async function tail(ctx: CliContext, forwarder: Forwarder): Promise<ExitCodeValue> {
  forwarder.start();
  ctx.note(`forwarding; stop with Ctrl-C or SIGTERM`);
  let wake: (() => void) | null = null;
  const onSignal = (): void => wake?.();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let lastNote = Date.now();
  try {
    let signalled = false;
    while (!signalled && forwarder.running) {
      signalled = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 200);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (Date.now() - lastNote >= 10_000) {
        lastNote = Date.now();
        const h = forwarder.health();
        ctx.note(`lag: ${h.lagEvents} event(s), ${h.lagSeconds.toFixed(1)} s${h.problems.length ? `; ${h.problems.join('; ')}` : ''}`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (forwarder.error) throw forwarder.error;
  await forwarder.stop();
  const h = forwarder.health();
  ctx.result({ stopped: true, lag: h.lag }, () => [`stopped; lag ${h.lagEvents} event(s)`]);
  return ExitCode.Ok;
}
