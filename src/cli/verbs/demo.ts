/**
 * `redb-audit demo` (what `npm start` runs): the end-to-end story on an embedded default directory.
 *
 *   1. create a store in --dir (./redb-audit-data unless told otherwise, or a temporary directory
 *      with --tmp) with 4 shards routed by tenant;
 *   2. write N realistic multi-tenant events (seeded generator, default 200,000) as NDJSON, or take
 *      fixtures/sample-events.ndjson with --fixture, and ingest the file with the ingest verb's code
 *      (progress bar on a terminal);
 *   3. ask the auditor's questions, timed: who touched this patient record last week, the failed
 *      logins of a tenant, the admin actions of one administrator;
 *   4. verify every shard; take a backup; restore it elsewhere; verify the restored copy and check
 *      that it answers with the same counts;
 *   5. print a summary: where the data lives and the next commands to try.
 *
 * It refuses to touch a --dir that holds a store it did not create (its marker lives in
 * <dir>-demo/, beside the backups and the restored copy). Exit 0 when every check passed, 2 when
 * one failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ValidationError } from '../../errors.js';
import { RedbAuditStore } from '../../audit/audit-store.js';
import type { AuditQuery } from '../../audit/types.js';
import { RedbManager } from '../../manager/redb-manager.js';
import { MANIFEST_NAME } from '../../manager/manifest.js';
import { intArg } from '../args.js';
import { CLI_SETTINGS, CliContext, verbAction } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { generateEvents } from '../sample-events.js';
import { bytes, ms, table } from '../render.js';
import { ingestInto } from './ingest.js';
import { restoreStoreFiles, saveStoreFiles } from '../../audit/store-files.js';
import { runVerify } from './verify.js';

interface DemoOptions {
  events: number;
  fixture?: boolean;
  tmp?: boolean;
  keep?: boolean;
}

/** What `demo --json` prints. */
export interface DemoSummary {
  dir: string;
  events: number;
  ingest: { inserted: number; durationMs: number; eventsPerSecond: number };
  queries: { question: string; matches: number; durationMs: number; index: string }[];
  verify: { status: string; durationMs: number };
  backup: { dir: string; bytes: number; durationMs: number };
  restore: { dir: string; durationMs: number; verify: string; sameCounts: boolean };
  storeBytes: number;
  ok: boolean;
  totalMs: number;
}

const MARKER = 'redb-audit-demo.json';
/** The committed sample, found relative to this file (src/cli/verbs or dist/cli/verbs alike). */
const FIXTURE = fileURLToPath(new URL('../../../fixtures/sample-events.ndjson', import.meta.url));

export function register(program: Command): void {
  program
    .command('demo')
    .description('the end-to-end story (npm start): generate, ingest, query, verify, back up, restore, verify again')
    .option('--events <N>', 'events to generate', intArg(1, 10_000_000), 200_000)
    .option('--fixture', 'ingest fixtures/sample-events.ndjson instead of generating events')
    .option('--tmp', 'work in a new temporary directory (removed at the end unless --keep)')
    .option('--keep', 'with --tmp, keep the temporary directory')
    .addHelpText('after', '\nExamples:\n  $ npm start\n  $ npm start -- --tmp --events 20000\n  $ redb-audit demo --dir /tmp/audit-demo --fixture')
    .action(verbAction((ctx, opts: DemoOptions) => demo(ctx, opts)));
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) total += fs.statSync(path.join(e.parentPath, e.name)).size;
  return total;
}

/** Makes --dir ready: new, or a store this demo made before (then it is replaced). */
function prepare(dir: string, extras: string): void {
  const hasStore = fs.existsSync(path.join(dir, MANIFEST_NAME));
  if (hasStore && !fs.existsSync(path.join(extras, MARKER))) {
    throw new ValidationError(`${dir} holds a store the demo did not create; the demo never touches it. Run with --tmp, or --dir <new directory>`);
  }
  if (!hasStore && fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new ValidationError(`${dir} is not empty; run the demo with --tmp, or --dir <new directory>`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(extras, { recursive: true, force: true });
  fs.mkdirSync(extras, { recursive: true });
  fs.writeFileSync(path.join(extras, MARKER), `${JSON.stringify({ store: dir, createdAt: new Date().toISOString() })}\n`);
}

function timed<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

async function demo(ctx: CliContext, opts: DemoOptions): Promise<ExitCodeValue> {
  const startedAll = performance.now();
  const tmpRoot = opts.tmp ? fs.mkdtempSync(path.join(os.tmpdir(), 'redb-audit-demo-')) : null;
  const dir = tmpRoot ? path.join(tmpRoot, 'redb-audit-data') : ctx.dir;
  const extras = `${dir}-demo`;
  const run = new CliContext({ dir, json: ctx.json, quiet: ctx.quiet, verbose: ctx.verbose });
  const say = (line: string): void => ctx.note(line);
  try {
    prepare(dir, extras);
    say(`redb-audit: the audit store, end to end, in ${dir}\n`);

    // 1-2. Create, generate, ingest.
    (await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 4 })).close();
    let source = FIXTURE;
    const endMs = Date.now();
    if (!opts.fixture) {
      source = path.join(extras, 'events.ndjson');
      const [, genMs] = timed(() => {
        const fd = fs.openSync(source, 'w');
        let buf: string[] = [];
        for (const e of generateEvents(opts.events, { seed: 42, endMs, spanDays: 30 })) {
          buf.push(JSON.stringify(e));
          if (buf.length === 5000) {
            fs.writeSync(fd, `${buf.join('\n')}\n`);
            buf = [];
          }
        }
        if (buf.length) fs.writeSync(fd, `${buf.join('\n')}\n`);
        fs.closeSync(fd);
      });
      say(`1. generated ${opts.events} events from 5 tenants over the last 30 days into ${source} (${bytes(fs.statSync(source).size)}, ${ms(genMs)})`);
    } else {
      say(`1. using the fixture ${source}`);
    }
    const store = await run.openAudit('write');
    let ingest;
    try {
      ingest = await ingestInto(run, store, source, { batchSize: 5000, onError: 'stop' });
    } finally {
      store.close();
    }
    if (ingest.rejected.length > 0) throw new ValidationError(`the demo's own events were rejected: ${ingest.rejected[0]!.error}`);
    say(`2. ingested ${ingest.inserted} events in ${ms(ingest.durationMs)} (${ingest.eventsPerSecond} events/s, ${ingest.batches} atomic batch(es), each durable before the next)`);

    // 3. The auditor's questions, against a read-only view (as an operator would, beside the agent).
    const reader = await run.openAudit('read');
    const queries: DemoSummary['queries'] = [];
    let tableText = '';
    let asks: [string, AuditQuery][] = [];
    try {
      const week = endMs - 7 * 86_400_000;
      const busiest = busiestRecord(reader, week);
      asks = [
        [`who touched ${busiest} (acme-health) in the last week`, { tenantId: 'acme-health', resourceType: 'patient_record', resourceId: busiest, from: week }],
        ['failed logins for globex-pay', { tenantId: 'globex-pay', action: 'auth.login', outcome: 'failure' }],
        ['role changes made by admin-0@initech-ops.example', { tenantId: 'initech-ops', actorId: 'admin-0@initech-ops.example', action: 'role.*' }],
        ['high-severity events for stark-cloud in the last week', { tenantId: 'stark-cloud', minSeverity: 'high', from: week }],
      ];
      for (const [question, q] of asks) {
        const [matches, took] = timed(() => reader.countEvents(q));
        const plan = reader.explain({ ...q, limit: 10 });
        queries.push({ question, matches, durationMs: took, index: plan.index });
      }
      const [page, pageMs] = timed(() => reader.queryEvents({ ...asks[0]![1], limit: 5 }));
      queries.push({ question: `the 5 latest of those touches (one page)`, matches: page.events.length, durationMs: pageMs, index: 'resource' });
      tableText = table(
        ['when', 'who', 'did', 'outcome'],
        page.events.map((e) => [new Date(e.timestamp).toISOString(), e.actor.id, e.action, e.outcome]),
      );
    } finally {
      reader.close();
    }
    say('3. the auditor asks (counted over every match, timed):');
    if (!ctx.quiet && !ctx.json) {
      process.stdout.write(`${table(['question', 'matches', 'time', 'index'], queries.map((q) => [q.question, q.matches, ms(q.durationMs), q.index]))}\n`);
      process.stdout.write(`${tableText}\n`);
    }

    // 4. Verify, back up, restore elsewhere, verify again.
    const v = await runVerify(run);
    say(`4. verify: ${v.status} (${v.shards.length} shards: every page, WAL record and index entry read back; ${v.integrity.length} tenant Merkle logs rehashed against their signed checkpoints; ${ms(v.durationMs)})`);
    const backupDir = path.join(extras, 'backups', 'full');
    const owner = await run.openAudit('write');
    let backup;
    try {
      backup = await owner.backup(backupDir);
    } finally {
      owner.close();
    }
    saveStoreFiles(dir, backupDir, [CLI_SETTINGS]);
    const check = RedbManager.verifyBackup(backupDir);
    say(`5. backup: ${backupDir} (${bytes(backup.bytesWritten)}, ${ms(backup.durationMs)}), verified: ${check.ok ? 'ok' : check.issues.join('; ')}`);
    const restoredDir = path.join(extras, 'restored');
    const restore = RedbManager.restore(backupDir, restoredDir);
    restoreStoreFiles(backupDir, restoredDir, [CLI_SETTINGS]);
    const restoredCtx = new CliContext({ dir: restoredDir, json: ctx.json, quiet: ctx.quiet, verbose: ctx.verbose });
    const v2 = await runVerify(restoredCtx);
    const sameCounts = await sameAnswers(restoredCtx, asks.map(([, q], i) => [q, queries[i]!.matches]));
    say(`6. restored into ${restoredDir} (${ms(restore.durationMs)}); verify: ${v2.status}; the restored copy gives the same answers: ${sameCounts ? 'yes' : 'NO'}`);

    const ok = v.status === 'clean' && check.ok && v2.status === 'clean' && sameCounts;
    const summary: DemoSummary = {
      dir,
      events: ingest.inserted,
      ingest: { inserted: ingest.inserted, durationMs: ingest.durationMs, eventsPerSecond: ingest.eventsPerSecond },
      queries,
      verify: { status: v.status, durationMs: v.durationMs },
      backup: { dir: backupDir, bytes: backup.bytesWritten, durationMs: backup.durationMs },
      restore: { dir: restoredDir, durationMs: restore.durationMs, verify: v2.status, sameCounts },
      storeBytes: dirBytes(dir),
      ok,
      totalMs: performance.now() - startedAll,
    };
    const d = tmpRoot && !opts.keep ? '<removed temporary directory>' : path.relative(process.cwd(), dir) || '.';
    const cli = invocation();
    ctx.result(summary, () => [
      '',
      `${ok ? 'All checks passed' : 'A CHECK FAILED'} in ${ms(summary.totalMs)}. ${summary.events} events, ${bytes(summary.storeBytes)} on disk (zstd pages).`,
      `  store:    ${tmpRoot && !opts.keep ? `${dir} (temporary; removed now; --keep keeps it)` : dir}`,
      `  backup:   ${backupDir}`,
      `  restored: ${restoredDir}`,
      '',
      'Next, try:',
      `  ${cli} query --dir ${d} --tenant globex-pay --action auth.login --outcome failure --limit 10`,
      `  ${cli} query --dir ${d} --tenant acme-health --actor admin-0@acme-health.example --explain`,
      `  ${cli} export --dir ${d} --tenant umbrella-lab --format ndjson --with-proofs --out umbrella.ndjson`,
      `  ${cli} stats --dir ${d}`,
      `  ${cli} serve --dir ${d}   # then: curl -s 127.0.0.1:7340/healthz`,
    ]);
    return ok ? ExitCode.Ok : ExitCode.Corruption;
  } finally {
    if (tmpRoot && !opts.keep) fs.rmSync(tmpRoot, { recursive: true, force: true });
  }
}

/**
 * How the reader should run the CLI: `node dist/cli/main.js` in a clone (where `npx redb-audit`
 * would look for the package on the registry), `npx redb-audit` where the package is installed.
 */
function invocation(): string {
  const bin = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
  const root = path.dirname(path.dirname(path.dirname(bin)));
  if (fs.existsSync(bin) && !root.split(path.sep).includes('node_modules')) {
    const rel = path.relative(process.cwd(), bin);
    return `node ${rel.startsWith('..') ? bin : rel}`;
  }
  return 'npx redb-audit';
}

/** The patient record with the most events in the window: the one the auditor asks about. */
function busiestRecord(store: RedbAuditStore, from: number): string {
  const seen = new Map<string, number>();
  for (const e of store.iterateEvents({ tenantId: 'acme-health', resourceType: 'patient_record', from, limit: 2000 })) {
    seen.set(e.resource.id, (seen.get(e.resource.id) ?? 0) + 1);
  }
  let best = 'patient_record-0';
  let n = -1;
  for (const [id, c] of seen) if (c > n) [best, n] = [id, c];
  return best;
}

/** Whether the restored store counts the same matches for the demo's questions as the original did. */
async function sameAnswers(restored: CliContext, expected: [AuditQuery, number][]): Promise<boolean> {
  const store = await restored.openAudit('read');
  try {
    return expected.every(([q, n]) => store.countEvents(q) === n);
  } finally {
    store.close();
  }
}
