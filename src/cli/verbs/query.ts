/**
 * `redb-audit query`: events of a tenant matching filters, newest first (--asc: oldest first). A
 * table for people; NDJSON (one event per line, nothing else) with --json. --count prints only the
 * number of matching events; --explain runs the query and prints the planner's choice and what it
 * scanned. Reads a snapshot: works while another process writes the store.
 */
import type { Command } from 'commander';
import type { AuditEvent, AuditQuery } from '../../audit/types.js';
import { MAX_LIMIT } from '../../audit/query-model.js';
import { verbAction, type CliContext } from '../context.js';
import { addQueryOptions, toAuditQuery, type QueryFlags } from '../query-options.js';
import { ms, table } from '../render.js';

interface QueryVerbOptions extends QueryFlags {
  count?: boolean;
  explain?: boolean;
  cursor?: string;
}

export function register(program: Command): void {
  const cmd = program.command('query').description('find events: a table, or NDJSON with --json; --count, --explain');
  addQueryOptions(cmd, 'most events to print (default 100)')
    .option('--cursor <C>', 'continue after the page that printed this cursor')
    .option('--count', 'print only the number of matching events')
    .option('--explain', 'print the query plan (index, filters, rows scanned) instead of the events')
    .addHelpText(
      'after',
      '\nExamples:\n  $ redb-audit query --dir ./audit --tenant acme-health --resource-type patient_record --resource-id patient_record-12 --from 2026-03-24\n' +
        '  $ redb-audit query --dir ./audit --tenant globex-pay --action auth.login --outcome failure --count\n' +
        '  $ redb-audit query --dir ./audit --tenant acme-health --actor admin-0@acme-health.example --json | jq .action',
    )
    .action(verbAction((ctx, opts: QueryVerbOptions) => query(ctx, opts)));
}

/** A row of the events table. */
export function eventRow(e: AuditEvent): string[] {
  return [new Date(e.timestamp).toISOString(), e.actor.id, e.action, `${e.resource.type}/${e.resource.id}`, e.outcome, e.severity];
}

export const EVENT_HEAD = ['time', 'actor', 'action', 'resource', 'outcome', 'severity'];

async function query(ctx: CliContext, opts: QueryVerbOptions): Promise<void> {
  const q: AuditQuery = toAuditQuery(opts);
  if (opts.cursor !== undefined) q.cursor = opts.cursor;
  const store = await ctx.openAudit('read');
  try {
    if (opts.count) {
      const started = performance.now();
      const n = store.countEvents(q);
      const took = performance.now() - started;
      ctx.result({ count: n, durationMs: took }, () => String(n));
      return;
    }
    if (opts.explain) {
      const started = performance.now();
      const plan = store.explain(q);
      const took = performance.now() - started;
      ctx.result({ ...plan, durationMs: took }, () => [
        `index: ${plan.index}`,
        `filters checked per event: ${plan.residualFilters.length ? plan.residualFilters.join(', ') : 'none'}`,
        `rows: ${plan.estimatedRows} estimated, ${plan.scannedRows} scanned, ${plan.returnedRows} returned`,
        `shards: ${plan.shards.join(', ')}`,
        `time: ${ms(took)}`,
      ]);
      return;
    }
    const limit = q.limit ?? 100;
    let events: AuditEvent[];
    let nextCursor: string | undefined;
    if (limit <= MAX_LIMIT) {
      const page = store.queryEvents({ ...q, limit });
      events = page.events;
      nextCursor = page.nextCursor;
    } else {
      events = [...store.iterateEvents(q)];
    }
    if (ctx.json) {
      for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);
    } else {
      process.stdout.write(`${events.length === 0 ? 'no matching events' : table(EVENT_HEAD, events.map(eventRow))}\n`);
    }
    if (nextCursor !== undefined) ctx.note(`more events match; next page: --cursor ${nextCursor}`);
  } finally {
    store.close();
  }
}
