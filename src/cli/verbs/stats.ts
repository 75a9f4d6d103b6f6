/**
 * `redb-audit stats`: what the store holds and how it is doing: per shard its transactions, entries,
 * page-file, WAL and free bytes, cache, and how far the last checkpoint is behind; the audit events
 * of every tenant; the health status
 * sets the exit code as `health` does. Reads only; --watch repeats it.
 */
import type { Command } from 'commander';
import type { HealthReport } from '../../manager/health.js';
import type { DatabaseStats } from '../../shard/stats.js';
import { intArg } from '../args.js';
import { verbAction, type CliContext } from '../context.js';
import type { ExitCodeValue } from '../exit-codes.js';
import { bytes, table } from '../render.js';
import { watchLoop } from '../watch.js';
import { T_TENANTS } from '../../audit/tables.js';
import { listTenants } from '../../audit/tenants.js';
import { healthExitCode } from './health.js';

interface StatsOptions {
  watch?: boolean;
  interval: number;
}

/** One shard's figures as the CLI reports them. */
export interface ShardFigures {
  shard: number;
  txn: number;
  checkpointTxn: number;
  entries: number;
  tables: { name: string; entries: number }[];
  pageFileBytes: number;
  freeBytes: number;
  walFileBytes: number;
  walBytesSinceCheckpoint: number;
  cache: DatabaseStats['cache'];
  compressionRatio: number;
}

/** What `stats --json` prints. */
export interface StatsReport {
  dir: string;
  /** Audit events per tenant (the system tenant included), largest first. */
  tenants: { tenantId: string; shard: number; events: number }[];
  events: number;
  status: HealthReport['status'];
  shards: ShardFigures[];
  totals: { entries: number; pageFileBytes: number; walFileBytes: number; freeBytes: number };
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('shards, entries, sizes, cache and checkpoint lag; exits like health (0/1/2)')
    .option('--watch', 'repeat every --interval seconds until interrupted')
    .option('--interval <seconds>', 'seconds between reports with --watch', intArg(1, 3600), 5)
    .addHelpText('after', '\nExamples:\n  $ redb-audit stats --dir ./audit\n  $ redb-audit stats --dir ./audit --json')
    .action(verbAction(async (ctx, opts: StatsOptions) => (opts.watch ? watchLoop(opts.interval * 1000, () => statsOnce(ctx)) : statsOnce(ctx))));
}

export async function readStats(ctx: CliContext): Promise<StatsReport> {
  const store = await ctx.openAudit('read');
  const manager = store.manager;
  try {
    const tenants: StatsReport['tenants'] = [];
    for (let i = 0; i < manager.shardCount; i++) {
      const snap = manager.shardAt(i).read();
      try {
        if (snap.tableNames().includes(T_TENANTS)) {
          for (const [, tenantId] of listTenants(snap.table(T_TENANTS))) tenants.push({ tenantId, shard: i, events: store.countEvents({ tenantId }) });
        }
      } finally {
        snap.close();
      }
    }
    tenants.sort((a, b) => b.events - a.events || (a.tenantId < b.tenantId ? -1 : 1));
    const shards: ShardFigures[] = [];
    for (let i = 0; i < manager.shardCount; i++) {
      const s = manager.shardAt(i).stats();
      shards.push({
        shard: i,
        txn: s.txn,
        checkpointTxn: s.checkpointTxn,
        entries: s.tables.reduce((n, t) => n + t.entries, 0),
        tables: s.tables,
        pageFileBytes: s.pageFileBytes,
        freeBytes: s.freeBytes,
        walFileBytes: s.walFileBytes,
        walBytesSinceCheckpoint: s.walBytesSinceCheckpoint,
        cache: s.cache,
        compressionRatio: s.compressionRatio,
      });
    }
    const sum = (f: (s: ShardFigures) => number): number => shards.reduce((n, s) => n + f(s), 0);
    return {
      dir: ctx.dir,
      tenants,
      events: tenants.reduce((n, t) => n + t.events, 0),
      status: manager.health().status,
      shards,
      totals: { entries: sum((s) => s.entries), pageFileBytes: sum((s) => s.pageFileBytes), walFileBytes: sum((s) => s.walFileBytes), freeBytes: sum((s) => s.freeBytes) },
    };
  } finally {
    store.close();
  }
}

async function statsOnce(ctx: CliContext): Promise<ExitCodeValue> {
  const report = await readStats(ctx);
  ctx.result(report, () => [
    `store ${report.dir}: ${report.events} event(s) in ${report.tenants.length} tenant(s), ${report.shards.length} shard(s), ${report.totals.entries} entries, ${bytes(report.totals.pageFileBytes + report.totals.walFileBytes)} on disk, status ${report.status}`,
    ...(report.tenants.length ? [table(['tenant', 'shard', 'events'], report.tenants.map((t) => [t.tenantId, t.shard, t.events]))] : []),
    table(
      ['shard', 'txn', 'commits since checkpoint', 'entries', 'page file', 'free', 'WAL', 'cache hit'],
      report.shards.map((s) => [s.shard, s.txn, s.txn - s.checkpointTxn, s.entries, bytes(s.pageFileBytes), bytes(s.freeBytes), bytes(s.walFileBytes), `${(s.cache.hitRatio * 100).toFixed(1)}%`]),
    ),
  ]);
  return healthExitCode(report.status);
}
