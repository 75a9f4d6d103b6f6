/**
 * `redb-audit verify`: reads everything the store holds from disk and checks it: header slots, every
 * page (checksum, structure, keys in order), space accounting, the WAL past the checkpoint and the
 * deduplicated blobs, in every shard.
 *
 * When another process holds the store, verify checks a read-only snapshot of it instead (see
 * onlineVerify): every record is read and checksummed, but space accounting, which only the owner
 * can see settled, is left to a full verify.
 *
 * With integrity on, every tenant's Merkle log is checked too: each event rehashed, the tree rebuilt,
 * every stored signed checkpoint checked against it.
 *
 * Exit codes: 0 clean; 1 warnings only (space accounting: a leaked or doubly listed extent wastes
 * space but loses no record); 2 corruption or data loss (any other issue, or a store that cannot be
 * opened because of damage).
 */
import type { Command } from 'commander';
import { CorruptionError, LockedError } from '../../errors.js';
import type { VerifyIssue } from '../../shard/maintenance/verify.js';
import type { RedbAuditStore } from '../../audit/audit-store.js';
import { T_TENANTS } from '../../audit/tables.js';
import { listTenants } from '../../audit/tenants.js';
import type { TenantVerifyReport } from '../../integrity/verify-log.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { ms } from '../render.js';

/** What `verify --json` prints. */
export interface VerifyOutput {
  dir: string;
  /**
   * 'full': the store was free, so verify took the writer lock and checked everything (headers,
   * every block, space accounting, WAL, blobs). 'online': another process holds the store, so a
   * read-only snapshot was scanned instead (every entry read and checksummed, counts checked).
   */
  mode: 'full' | 'online';
  status: 'clean' | 'warnings' | 'corrupt';
  shards: { shard: number; ok: boolean; blocks: number; entries: number; walRecords: number; issues: (VerifyIssue & { severity: 'warning' | 'corruption' })[] }[];
  /**
   * Every tenant's Merkle log checked against its events and signed checkpoints (verifyTenant): an
   * event edited, deleted, inserted or reordered, or a log truncated or forked, is corruption.
   */
  integrity: TenantVerifyReport[];
  durationMs: number;
}

/** Space-accounting issues waste space; every other kind means a record may be unreadable. */
export function issueSeverity(issue: VerifyIssue): 'warning' | 'corruption' {
  return issue.area === 'space' ? 'warning' : 'corruption';
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('check every page, the WAL and the indexes of every shard: 0 clean, 1 warnings, 2 corruption or data loss')
    .addHelpText('after', '\nExamples:\n  $ redb-audit verify --dir ./audit\n  $ redb-audit verify --dir ./audit --json')
    .action(verbAction((ctx) => verify(ctx)));
}

/** Runs verify over the store in --dir and returns its report (a store too damaged to open: corrupt). */
export async function runVerify(ctx: CliContext): Promise<VerifyOutput> {
  const started = performance.now();
  let store: RedbAuditStore;
  try {
    store = await ctx.openAudit('write');
  } catch (err) {
    if (err instanceof LockedError) return onlineVerify(ctx, started);
    if (err instanceof CorruptionError) return unopenable(ctx, err, started, 'full');
    throw err;
  }
  try {
    const { shards, integrity } = store.verify();
    const out = shards.map((r, shard) => ({
      shard,
      ok: r.ok,
      blocks: r.checked.blocks,
      entries: r.checked.entries,
      walRecords: r.checked.walRecords,
      issues: r.issues.map((i) => ({ ...i, severity: issueSeverity(i) })),
    }));
    return finish(ctx, 'full', out, integrity, started);
  } finally {
    store.close();
  }
}

function finish(ctx: CliContext, mode: VerifyOutput['mode'], shards: VerifyOutput['shards'], integrity: TenantVerifyReport[], started: number): VerifyOutput {
  const all = shards.flatMap((s) => s.issues);
  const corrupt = all.some((i) => i.severity === 'corruption') || integrity.some((t) => !t.ok);
  const status = corrupt ? 'corrupt' : all.length > 0 ? 'warnings' : 'clean';
  return { dir: ctx.dir, mode, status, shards, integrity, durationMs: performance.now() - started };
}

/** Every tenant of every shard (the system tenant included). */
export function tenantsOf(store: RedbAuditStore): string[] {
  const out: string[] = [];
  for (let i = 0; i < store.manager.shardCount; i++) {
    const snap = store.manager.shardAt(i).read();
    try {
      if (snap.tableNames().includes(T_TENANTS)) for (const [, t] of listTenants(snap.table(T_TENANTS))) out.push(t);
    } finally {
      snap.close();
    }
  }
  return out;
}

function unopenable(ctx: CliContext, err: CorruptionError, started: number, mode: VerifyOutput['mode']): VerifyOutput {
  return finish(
    ctx,
    mode,
    [{ shard: shardOfFile(err.file), ok: false, blocks: 0, entries: 0, walRecords: 0, issues: [{ area: 'header', file: err.file, offset: err.offset, message: err.message, severity: 'corruption' }] }],
    [],
    started,
  );
}

/**
 * Verify beside a live writer: the store is opened read-only (a snapshot: the newest checkpoint and
 * the WAL after it, every record checksummed as it is replayed), and every entry of every table of
 * every shard is read through it, each page checked against its checksum on the way, and the
 * entries counted against the catalog. A writer's checkpoint may recycle blocks the snapshot still
 * reaches, so a shard whose scan meets a bad checksum is scanned once more from a fresh snapshot
 * before the damage is reported.
 */
async function onlineVerify(ctx: CliContext, started: number): Promise<VerifyOutput> {
  const scanShard = (store: RedbAuditStore, i: number): VerifyOutput['shards'][number] => {
    const db = store.manager.shardAt(i);
    const st = db.stats();
    const issues: VerifyOutput['shards'][number]['issues'] = [];
    let entries = 0;
    for (const t of st.tables) {
      let n = 0;
      for (const e of db.table(t.name).range()) {
        void e.value;
        n++;
      }
      entries += n;
      if (n !== t.entries) issues.push({ area: 'tree', file: st.path, offset: 0, message: `table ${t.name} holds ${n} entries but its catalog says ${t.entries}`, severity: 'corruption' });
    }
    return { shard: i, ok: issues.length === 0, blocks: 0, entries, walRecords: st.txn - st.checkpointTxn, issues };
  };
  const out: VerifyOutput['shards'] = [];
  const integrity: TenantVerifyReport[] = [];
  let store: RedbAuditStore;
  try {
    store = await ctx.openAudit('read');
  } catch (err) {
    if (err instanceof CorruptionError) return unopenable(ctx, err, started, 'online');
    throw err;
  }
  try {
    for (let i = 0; i < store.manager.shardCount; i++) {
      try {
        out.push(scanShard(store, i));
      } catch (err) {
        if (!(err instanceof CorruptionError)) throw err;
        store.close();
        store = await ctx.openAudit('read');
        try {
          out.push(scanShard(store, i));
        } catch (again) {
          if (!(again instanceof CorruptionError)) throw again;
          out.push({ shard: i, ok: false, blocks: 0, entries: 0, walRecords: 0, issues: [{ area: 'block', file: again.file, offset: again.offset, message: again.message, severity: 'corruption' }] });
        }
      }
    }
    // The logs, from the same snapshot as the events they cover.
    if (store.options.integrity.enabled) for (const t of tenantsOf(store)) integrity.push(store.verifyTenant(t));
  } finally {
    store.close();
  }
  return finish(ctx, 'online', out, integrity, started);
}

/** The shard a damaged file belongs to (`<baseDir>/shards/<NNN>/...`), or -1 for a store-wide file. */
function shardOfFile(file: string): number {
  const m = /[\\/]shards[\\/](\d{3})[\\/]/.exec(file);
  return m ? Number(m[1]) : -1;
}

export function verifyExitCode(status: VerifyOutput['status']): ExitCodeValue {
  return status === 'clean' ? ExitCode.Ok : status === 'warnings' ? ExitCode.Warnings : ExitCode.Corruption;
}

/** The lines people read for a verify report. */
export function verifyLines(r: VerifyOutput): string[] {
  const blocks = r.shards.reduce((n, s) => n + s.blocks, 0);
  const entries = r.shards.reduce((n, s) => n + s.entries, 0);
  const wal = r.shards.reduce((n, s) => n + s.walRecords, 0);
  const lines =
    r.mode === 'full'
      ? [`verify ${r.dir}: ${r.status} (${r.shards.length} shard(s), ${blocks} blocks, ${entries} entries, ${wal} WAL records, ${ms(r.durationMs)})`]
      : [`verify ${r.dir}: ${r.status} (online: the store is open in another process; ${r.shards.length} shard(s), ${entries} entries read from one snapshot, ${ms(r.durationMs)})`];
  if (r.integrity.length > 0) {
    const events = r.integrity.reduce((n, t) => n + t.checkedEvents, 0);
    const bad = r.integrity.filter((t) => !t.ok);
    lines.push(`  Merkle logs: ${r.integrity.length} tenant(s), ${events} event(s) rehashed, ${r.integrity.reduce((n, t) => n + t.checkpoints, 0)} signed checkpoint(s) checked: ${bad.length === 0 ? 'intact' : `${bad.length} tenant(s) with findings`}`);
  }
  for (const s of r.shards) for (const i of s.issues) lines.push(`  ${i.severity}: shard ${s.shard} ${i.area} ${i.file}@${i.offset}: ${i.message}`);
  for (const t of r.integrity) for (const i of t.issues.slice(0, 20)) lines.push(`  corruption: tenant ${t.tenantId} log: ${i.kind}${i.eventId ? ` event ${i.eventId}` : ''}: ${i.message}`);
  if (r.status === 'corrupt') lines.push(`next: take the store offline and run \`redb-audit repair --dir ${r.dir} --dry-run\`, or restore a backup`);
  return lines;
}

async function verify(ctx: CliContext): Promise<ExitCodeValue> {
  const report = await runVerify(ctx);
  ctx.result(report, () => verifyLines(report));
  return verifyExitCode(report.status);
}
