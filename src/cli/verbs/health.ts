/**
 * `redb-audit health`: the store's health report (RedbManager.health()), with the seed guides' exit
 * codes: 0 healthy, 1 degraded, 2 unhealthy. Reads only; --watch repeats it.
 */
import type { Command } from 'commander';
import type { HealthReport, HealthStatus } from '../../manager/health.js';
import { intArg } from '../args.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { bytes, table } from '../render.js';
import { watchLoop } from '../watch.js';

interface HealthOptions {
  watch?: boolean;
  interval: number;
}

export function register(program: Command): void {
  program
    .command('health')
    .description('health of the store: 0 healthy, 1 degraded, 2 unhealthy (each problem named)')
    .option('--watch', 'repeat every --interval seconds until interrupted')
    .option('--interval <seconds>', 'seconds between reports with --watch', intArg(1, 3600), 5)
    .addHelpText('after', '\nExamples:\n  $ redb-audit health --dir ./audit\n  $ redb-audit health --dir ./audit --json --watch --interval 10')
    .action(verbAction(async (ctx, opts: HealthOptions) => (opts.watch ? watchLoop(opts.interval * 1000, () => healthOnce(ctx)) : healthOnce(ctx))));
}

/** The exit code of a health status. */
export function healthExitCode(status: HealthStatus): ExitCodeValue {
  return status === 'healthy' ? ExitCode.Ok : status === 'degraded' ? ExitCode.Warnings : ExitCode.Corruption;
}

/** The health report with the audit layer's warnings (keys kept inside the store's directory). */
export type CliHealthReport = HealthReport & { warnings: string[] };

/** Reads the store's health report (opening it only to read). */
export async function readHealth(ctx: CliContext): Promise<CliHealthReport> {
  const store = await ctx.openAudit('read');
  try {
    return store.health();
  } finally {
    store.close();
  }
}

/** The lines people read for a health report. */
export function healthLines(report: CliHealthReport): string[] {
  const lines = [`status: ${report.status} (checked ${report.checkedAt})`, ...report.warnings.map((w) => `note: ${w}`)];
  lines.push(
    table(
      ['shard', 'status', 'WAL since checkpoint', 'disk free', 'problems'],
      report.shards.map((s) => [s.shard, s.status, bytes(s.walBytes), bytes(s.diskFreeBytes), s.problems.join('; ') || '-']),
    ),
  );
  return lines;
}

async function healthOnce(ctx: CliContext): Promise<ExitCodeValue> {
  const report = await readHealth(ctx);
  ctx.result(report, () => healthLines(report));
  return healthExitCode(report.status);
}
