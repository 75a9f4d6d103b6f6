/**
 * RedbAuditStore: the audit-event store over a RedbManager. It owns routing of events to their
 * tenant's shard, inserting (insert.ts) one transaction per shard with cross-shard batches made
 * all-or-nothing (cross-shard.ts), queries over MVCC snapshots (planner.ts, query-exec.ts),
 * exports, the change feed, retention, and the manager's operations, each of which that changes
 * the store is recorded in the system tenant (system-events.ts).
 *
 * Invariants: nothing is written for a batch until every event of it has validated; an insert call
 * returns (or its promise resolves) only once every part is durable per the store's durability;
 * caches (tenant numbers, shard routing) only ever hold facts that are durable and immutable, and
 * are dropped when restore or repair replaces shard files.
 */
import path from 'node:path';
import type { Writable } from 'node:stream';
import { restoreStoreFiles, saveStoreFiles } from './store-files.js';
import { ClosedError, ValidationError } from '../errors.js';
import { BackupCorruptionError } from '../backup/backup-error.js';
import type { KeySource } from '../codec/key-source.js';
import type { BackupOptions, BackupReport } from '../backup/backup.js';
import { storeId } from './store-id.js';
import { HealthSources, type AuditHealthReport, type HealthSource } from './health-sources.js';
import { RedbManager } from '../manager/redb-manager.js';
import { closeRedbManager, getRedbManager, initRedbManager } from '../manager/singleton.js';
import type { RedbOptions } from '../manager/options.js';
import type { RestoreReport } from '../backup/restore.js';
import type { ShardRepairReport } from '../shard/maintenance/repair.js';
import type { VerifyReport } from '../shard/maintenance/verify.js';
import type { WriteTxn } from '../shard/txn/write-txn.js';
import { once } from 'node:events';
import { proofBundlePieces, storedEvents } from '../integrity/audit-binding.js';
import type { CheckpointPublicKey } from '../integrity/checkpoint-signer.js';
import { IntegrityService, type Checkpoint, type InclusionProof } from '../integrity/integrity-service.js';
import { PersonalDataVault, resolveStoreKey } from '../integrity/personal-data-vault.js';
import type { TenantVerifyReport } from '../integrity/verify-log.js';
import { newBatchId, recordPart, recoverBatches, encodeShards, rollBackPart, type BatchRecovery } from './cross-shard.js';
import { encodeCursor, type CursorPos } from './cursor.js';
import { checkRetention, describe, prepareEvent, resolveAuditOptions, type PreparedEvent, type ResolvedAuditOptions } from './event-model.js';
import { exportToString, exportToWritable, checkExport } from './export/index.js';
import { readFeed, trimFeed, type ChangeEntry, type ChangesOptions } from './feed.js';
import { insertPart, type InsertHook, type PartResult } from './insert.js';
import { upgradeIndexLayout } from './index-layout.js';
import { KIND_NAMES } from './keys.js';
import { planTenant, RESIDUAL_NAMES, type TenantPlan } from './planner.js';
import { TotalsCache } from './totals-cache.js';
import { TenantListCache } from './tenant-list-cache.js';
import { checkShard, type ConsistencyReport } from './consistency.js';
import { countPlan, matchesResidual, MergedRows, openView, type Row, type ShardView } from './query-exec.js';
import { DEFAULT_LIMIT, normaliseQuery, queryFingerprint, type NormalQuery } from './query-model.js';
import { holdKey, isHeld, purgeTenant } from './retention.js';
import { systemEvent } from './system-events.js';
import { T_INTENTS, T_META, T_PARTS, T_STATS, T_TENANTS } from './tables.js';
import { listTenants, lookupTenant } from './tenants.js';
import {
  SYSTEM_TENANT,
  type AuditEvent,
  type AuditEventInput,
  type AuditOptions,
  type AuditQuery,
  type AuditStoreOptions,
  type ExportFormat,
  type ExportOptions,
  type ExportReport,
  type InsertReport,
  type PurgeReport,
  type QueryPlan,
  type QueryResult,
  type RetentionPolicy,
} from './types.js';

/** Audit options given to the last initAuditRedb, used by newWithManager. */
let singletonAudit: ResolvedAuditOptions | null = null;

/**
 * Managers whose cross-shard batches were already settled. Recovery runs once per opened manager,
 * before any store over it inserts: run again while a store's batch is in flight, it would take
 * that batch for a crashed one.
 */
const recovered = new WeakMap<RedbManager, BatchRecovery>();

function recoverOnce(mgr: RedbManager): BatchRecovery {
  let r = recovered.get(mgr);
  if (!r) {
    r = recoverBatches(mgr.shardCount, (i) => mgr.shardAt(i));
    recovered.set(mgr, r);
  }
  return r;
}

/** One shard's part of a batch: the events and their positions in the batch. */
interface Part {
  shard: number;
  events: PreparedEvent[];
  positions: number[];
}

/** Cross-shard bookkeeping cleared lazily, inside later writes of each shard. */
interface Pending {
  /** Intents (of complete batches) to delete in this coordinator shard: batch id and its shards. */
  intents: { batchId: Buffer; shards: number[] }[];
  /** Part records of complete batches whose intent is already gone. */
  parts: Buffer[];
}

/**
 * The audit-event store. Open one with {@link RedbAuditStore.open}, or over the process-wide
 * manager with {@link initAuditRedb} / {@link RedbAuditStore.newWithManager}.
 */
export class RedbAuditStore {
  private mgr: RedbManager;
  private readonly audit: ResolvedAuditOptions;
  private readonly redbOptions: RedbOptions | null;
  private readonly overSingleton: boolean;
  private tenantCache: Map<string, number>[] = [];
  private readonly shardCache = new Map<string, number>();
  private readonly totalsCache = new TotalsCache();
  private readonly tenantLists = new TenantListCache();
  /**
   * The last page query's objects, ended (snapshots closed, scans released), kept only so that their
   * shapes outlive it. V8 drops an object shape at a full garbage collection once no object has it,
   * and with it every optimized function that checks for it (a "weak objects" deoptimization); a
   * query's objects all die when it returns, so without this the queries after each collection ran
   * unoptimized until V8 compiled them again (2,000 time windows after a forced collection: ~80 µs
   * each against ~52). What it holds is small: one closed snapshot per shard the query read, its
   * ended scans, and the last row with its event.
   */
  private readonly lastPage: { run: QueryRun | null; rows: MergedRows | null; last: Row | null } = { run: null, rows: null, last: null };
  private readonly hooks: InsertHook[] = [];
  private pending: Pending[] = [];
  private closed = false;
  /** The tamper-evident log (null when integrity.enabled is false). */
  private readonly integrity: IntegrityService | null = null;
  /** Crypto-shredding (null unless personalData.enabled). */
  private readonly vault: PersonalDataVault | null = null;
  /** Warnings about how keys are kept, fixed at open. */
  private readonly integrityWarnings: string[] = [];
  private readonly healthSources = new HealthSources();
  /** What opening found of cross-shard batches interrupted by a crash. */
  readonly batchRecovery: BatchRecovery;

  private constructor(mgr: RedbManager, audit: ResolvedAuditOptions, redbOptions: RedbOptions | null, overSingleton: boolean) {
    this.mgr = mgr;
    this.audit = audit;
    this.redbOptions = redbOptions;
    this.overSingleton = overSingleton;
    this.resetCaches();
    // A read-only store writes nothing: settling interrupted cross-shard batches is the writer's job.
    this.batchRecovery = mgr.options.readOnly ? { completed: 0, rolledBack: 0, eventsRemoved: 0 } : recoverOnce(mgr);
    // Every writable open makes sure the store has its id, so read-only forwarders can rely on it.
    if (!mgr.options.readOnly) storeId(mgr);
    upgradeIndexLayout(mgr);
    const baseDir = mgr.options.baseDir;
    const shardOfTenant = (tenantId: string) => this.mgr.shardAt(this.shardOf(tenantId));
    if (audit.integrity.enabled) {
      const store = this;
      const integrity = IntegrityService.open(audit.integrity, baseDir, {
        shard: shardOfTenant,
        shardAt: (i) => this.mgr.shardAt(i),
        get shardCount() {
          return store.mgr.shardCount;
        },
      }, mgr.options.readOnly);
      this.integrity = integrity;
      this.hooks.push((tx, ins) => {
        const leaves = new Array<{ id: string; bytes: Buffer }>(ins.events.length);
        for (let i = 0; i < leaves.length; i++) leaves[i] = { id: ins.events[i]!.id, bytes: ins.events[i]!.json };
        integrity.appendLeaves(tx, ins.tenantId, leaves);
      });
    }
    if (audit.personalData.enabled) {
      const { key, generated } = resolveStoreKey(baseDir, mgr.options.encryptionEnabled && mgr.options.encryptionKey ? mgr.options.encryptionKey : undefined, mgr.options.readOnly);
      if (generated) {
        this.integrityWarnings.push(`personal data is sealed under a key kept in the store's own directory (${path.join(baseDir, 'personal-data.key')}); turn encryption on (its key then derives this one) so that erasing a subject cannot be undone by whoever copies the directory`);
      }
      const vault = new PersonalDataVault(key, audit.personalData.fields, shardOfTenant);
      this.vault = vault;
      this.hooks.push((tx, ins) => vault.onInsert(tx, ins.tenantId, ins.events));
    }
  }

  /**
   * Opens (or creates) a store: `options` are the RedbOptions (baseDir, sharding, shardCount,
   * encryption, compression, durability, ...) plus the audit options (limits, retention). Recovers
   * from a crash, including rolling back a cross-shard batch that was not completely committed.
   * The store owns its manager and closes it on close().
   */
  static async open(options?: AuditStoreOptions): Promise<RedbAuditStore> {
    const { redb, audit } = resolveAuditOptions(options);
    const mgr = RedbManager.open(redb);
    try {
      return new RedbAuditStore(mgr, audit, redb, false);
    } catch (err) {
      mgr.close();
      throw err;
    }
  }

  /**
   * A store over the process-wide manager that {@link initAuditRedb} (or initRedbManager)
   * initialised, with the audit options given to initAuditRedb (defaults otherwise).
   */
  static newWithManager(options?: AuditOptions): RedbAuditStore {
    const mgr = getRedbManager();
    const audit = options !== undefined ? resolveAuditOptions(options).audit : (singletonAudit ?? resolveAuditOptions(undefined).audit);
    return new RedbAuditStore(mgr, audit, null, true);
  }

  /** @internal Used by initAuditRedb. */
  static initSingleton(options?: AuditStoreOptions): RedbAuditStore {
    const { redb, audit } = resolveAuditOptions(options);
    const mgr = initRedbManager(redb);
    singletonAudit = audit;
    return new RedbAuditStore(mgr, audit, redb, true);
  }

  /** The manager underneath (for engine-level work; the store's methods cover the usual operations). */
  get manager(): RedbManager {
    return this.mgr;
  }

  /** The audit options in force (defaults applied). */
  get options(): Readonly<ResolvedAuditOptions> {
    return this.audit;
  }

  /**
   * Registers a function called inside every insert transaction, once per tenant that gained
   * events, with those events in commit order (the integrity layer appends Merkle leaves there).
   */
  addInsertHook(hook: InsertHook): void {
    if (typeof hook !== 'function') throw new ValidationError('an insert hook must be a function');
    this.hooks.push(hook);
  }

  // ---------------------------------------------------------------- insert

  /** Inserts one event durably and returns its id (the existing id when it was a duplicate). */
  insertEvent(event: AuditEventInput): string {
    return this.insertEvents([event]).ids[0]!;
  }

  /**
   * Inserts a batch durably: all of it or (after a crash, or on any error) none of it, across
   * shards too. Every event is validated before anything is written; an id the tenant already holds
   * is a duplicate and writes nothing.
   */
  insertEvents(batch: readonly AuditEventInput[]): InsertReport {
    const { events, parts } = this.prepare(batch, false);
    if (parts.length === 1) {
      const part = parts[0]!;
      const result = this.writeShard(part.shard, (tx) => insertPart(tx, part.events, this.tenantCache[part.shard]!, this.hooks));
      this.afterPart(part.shard, result);
      return report(events, result.insertedCount);
    }
    return this.insertCrossShardSync(events, parts);
  }

  /**
   * Like {@link insertEvents}, without blocking on fsync: concurrent calls share commits (group
   * commit), so many small batches in flight cost about as much as one large one.
   */
  async insertEventsAsync(batch: readonly AuditEventInput[]): Promise<InsertReport> {
    const { events, parts } = this.prepare(batch, false);
    if (parts.length === 1) {
      const part = parts[0]!;
      const result = await this.writeShardAsync(part.shard, (tx) => insertPart(tx, part.events, this.tenantCache[part.shard]!, this.hooks));
      this.afterPart(part.shard, result);
      return report(events, result.insertedCount);
    }
    const batchId = newBatchId();
    const coordinator = parts[0]!.shard;
    const shards = parts.map((p) => p.shard);
    await this.writeShardAsync(coordinator, (tx) => tx.table(T_INTENTS).put(batchId, encodeShards(shards)));
    const settled = await Promise.allSettled(
      parts.map((part) =>
        this.writeShardAsync(part.shard, (tx) => {
          const r = insertPart(tx, part.events, this.tenantCache[part.shard]!, this.hooks);
          recordPart(tx, batchId, coordinator, r.tenants);
          return r;
        }),
      ),
    );
    const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      this.rollBackBatch(batchId, coordinator, shards);
      throw failed.reason;
    }
    let inserted = 0;
    settled.forEach((s, i) => {
      const r = (s as PromiseFulfilledResult<PartResult>).value;
      this.afterPart(parts[i]!.shard, r);
      inserted += r.insertedCount;
    });
    this.pending[coordinator]!.intents.push({ batchId, shards });
    return report(events, inserted);
  }

  private insertCrossShardSync(events: PreparedEvent[], parts: Part[]): InsertReport {
    const batchId = newBatchId();
    const coordinator = parts[0]!.shard;
    const shards = parts.map((p) => p.shard);
    this.writeShard(coordinator, (tx) => tx.table(T_INTENTS).put(batchId, encodeShards(shards)));
    let inserted = 0;
    try {
      for (const part of parts) {
        const r = this.writeShard(part.shard, (tx) => {
          const res = insertPart(tx, part.events, this.tenantCache[part.shard]!, this.hooks);
          recordPart(tx, batchId, coordinator, res.tenants);
          return res;
        });
        this.afterPart(part.shard, r);
        inserted += r.insertedCount;
      }
    } catch (err) {
      this.rollBackBatch(batchId, coordinator, shards);
      throw err;
    }
    this.pending[coordinator]!.intents.push({ batchId, shards });
    return report(events, inserted);
  }

  /** Undoes the committed parts of a failed batch now; if that fails too, recovery at the next open does it. */
  private rollBackBatch(batchId: Buffer, coordinator: number, shards: number[]): void {
    try {
      for (const s of shards) this.mgr.shardAt(s).write((tx) => rollBackPart(tx, batchId));
      this.mgr.shardAt(coordinator).write((tx) => tx.table(T_INTENTS).remove(batchId));
    } catch {
      // The intent stays; the next open rolls the batch back (see cross-shard.ts).
    }
  }

  /** Validates a whole batch and splits it by shard (in shard order). */
  private prepare(batch: readonly AuditEventInput[], allowSystem: boolean): { events: PreparedEvent[]; parts: Part[] } {
    this.assertOpen();
    if (!Array.isArray(batch)) throw new ValidationError(`insertEvents takes an array of events, got ${describe(batch)}`);
    if (batch.length === 0) throw new ValidationError('the batch is empty; pass at least one event');
    if (batch.length > this.audit.maxBatch) throw new ValidationError(`the batch has ${batch.length} events; the limit is ${this.audit.maxBatch} (option maxBatch): split it`);
    const events = new Array<PreparedEvent>(batch.length);
    const byShard = new Map<number, Part>();
    for (let i = 0; i < batch.length; i++) {
      const e = prepareEvent(batch[i], this.audit, batch.length === 1 ? 'event' : `event ${i}`, allowSystem);
      if (this.vault !== null) this.vault.seal(e);
      events[i] = e;
      const shard = this.shardOf(e.tenantId);
      let part = byShard.get(shard);
      if (!part) byShard.set(shard, (part = { shard, events: [], positions: [] }));
      part.events.push(e);
      part.positions.push(i);
    }
    return { events, parts: [...byShard.values()].sort((a, b) => a.shard - b.shard) };
  }

  private shardOf(tenantId: string): number {
    let s = this.shardCache.get(tenantId);
    if (s === undefined) {
      s = this.mgr.shardFor(tenantId);
      if (this.shardCache.size > 100_000) this.shardCache.clear();
      this.shardCache.set(tenantId, s);
    }
    return s;
  }

  /** Runs `fn` in a write of `shard`, with the lazily cleared cross-shard records of that shard. */
  private writeShard<T>(shard: number, fn: (tx: WriteTxn) => T): T {
    const cleared = this.takePending(shard);
    try {
      const r = this.mgr.shardAt(shard).write((tx) => {
        applyPending(tx, cleared);
        return fn(tx);
      });
      this.settlePending(cleared);
      return r;
    } catch (err) {
      this.restorePending(shard, cleared);
      throw err;
    }
  }

  private async writeShardAsync<T>(shard: number, fn: (tx: WriteTxn) => T): Promise<T> {
    const cleared = this.takePending(shard);
    try {
      const r = await this.mgr.shardAt(shard).writeAsync((tx) => {
        applyPending(tx, cleared);
        return fn(tx);
      });
      this.settlePending(cleared);
      return r;
    } catch (err) {
      this.restorePending(shard, cleared);
      throw err;
    }
  }

  private takePending(shard: number): Pending {
    const p = this.pending[shard]!;
    const taken = { intents: p.intents, parts: p.parts };
    p.intents = [];
    p.parts = [];
    return taken;
  }

  /** Once an intent's deletion is durable, its parts' records may go. */
  private settlePending(cleared: Pending): void {
    for (const { batchId, shards } of cleared.intents) for (const s of shards) this.pending[s]?.parts.push(batchId);
  }

  private restorePending(shard: number, cleared: Pending): void {
    const p = this.pending[shard];
    if (!p) return;
    p.intents.push(...cleared.intents);
    p.parts.push(...cleared.parts);
  }

  private afterPart(shard: number, r: PartResult): void {
    const cache = this.tenantCache[shard]!;
    for (const [id, no] of r.newTenants) cache.set(id, no);
  }

  // ---------------------------------------------------------------- queries

  /**
   * One page of events matching `query`, newest first unless `order: 'asc'`; `limit` defaults to
   * 100 (at most 10,000). Pass `nextCursor` back as `cursor` for the next page.
   */
  queryEvents(query: AuditQuery): QueryResult {
    const q = normaliseQuery(query, 'page');
    return this.runPage(q, { scanned: 0 }).result;
  }

  /** The plan the planner chooses for `query`, executed to report what it scanned and returned. */
  explain(query: AuditQuery): QueryPlan {
    const q = normaliseQuery(query, 'page');
    const counter = { scanned: 0 };
    const { result, plans } = this.runPage(q, counter);
    const kinds = [...new Set(plans.map((p) => KIND_NAMES[p.kind]!))];
    const residual = new Set<string>();
    for (const p of plans) for (const [bit, name] of RESIDUAL_NAMES) if (p.residual & bit) residual.add(name);
    return {
      index: kinds.length === 0 ? 'none' : kinds.join(','),
      residualFilters: [...residual],
      estimatedRows: plans.reduce((n, p) => n + p.estimatedRows, 0),
      scannedRows: counter.scanned,
      returnedRows: result.events.length,
      shards: [...new Set(plans.map((p) => p.shard))].sort((a, b) => a - b),
    };
  }

  /** Number of events matching `query` (limit, order and cursor do not apply). Index-only where possible. */
  countEvents(query: AuditQuery): number {
    const q = normaliseQuery(query, 'all');
    const run = this.openRun(q, true);
    try {
      let n = 0;
      const counter = { scanned: 0 };
      for (const plan of run.plans) {
        const view = run.views.get(plan.shard)!;
        n += countPlan(plan, view, q, counter);
      }
      return n;
    } finally {
      run.close();
    }
  }

  /**
   * Every event matching `query` in its order (its `limit`, when given, caps the total; otherwise
   * all of them), read lazily from one snapshot per shard: memory stays bounded however many match.
   * Break out of the loop (or call return()) to release the snapshots early.
   */
  *iterateEvents(query: AuditQuery): Generator<AuditEvent, void, undefined> {
    for (const row of this.matchingRows(normaliseQuery(query, 'all'))) yield this.revealed(row.event());
  }

  /** The matching events (as iterateEvents) formatted as one string: 'json' or 'ndjson'. */
  exportEvents(query: AuditQuery, format: ExportFormat, options?: ExportOptions): string {
    const q = normaliseQuery(query, 'all');
    if (this.wantsProofs(format, options)) return [...proofBundlePieces(this.matchingRows(q), this.integrity!.signer)].join('');
    checkExport(format, options);
    return exportToString(this.matchingRows(q), format, options);
  }

  /** Streams the matching events into `writable` (not ended), honouring back-pressure. */
  async exportEventsTo(query: AuditQuery, format: ExportFormat, writable: Writable, options?: ExportOptions): Promise<ExportReport> {
    const q = normaliseQuery(query, 'all');
    if (!options?.withProofs) checkExport(format, options);
    if (!writable || typeof (writable as Writable).write !== 'function') throw new ValidationError('exportEventsTo needs a writable stream');
    if (this.wantsProofs(format, options)) {
      let events = -2; // the header and the trailer are not events
      let bytes = 0;
      for (const piece of proofBundlePieces(this.matchingRows(q), this.integrity!.signer)) {
        events++;
        bytes += Buffer.byteLength(piece, 'utf8');
        if (!writable.write(piece)) await once(writable, 'drain');
      }
      return { format, events, bytes };
    }
    return exportToWritable(this.matchingRows(q), format, writable, options);
  }

  /** @internal Matching rows of a validated query, lazily, closing the snapshots at the end. */
  *matchingRows(q: NormalQuery): Generator<Row, void, undefined> {
    // Not scoped: a caller may drop the generator unfinished, and the snapshots then go with it.
    const run = this.openRun(q, false);
    try {
      const cursor = q.position;
      let left = q.limit ?? Infinity;
      if (left <= 0) return;
      for (const row of new MergedRows(run.plans, run.views, q, cursor, { scanned: 0 })) {
        if (row.residual !== 0 && !matchesResidual(row.event(), q, row.residual)) continue;
        yield row;
        if (--left <= 0) return;
      }
    } finally {
      run.close();
    }
  }

  private runPage(q: NormalQuery, counter: { scanned: number }): { result: QueryResult; plans: TenantPlan[] } {
    const run = this.openRun(q, true);
    try {
      const cursor = q.position;
      const limit = q.limit ?? DEFAULT_LIMIT;
      const events: AuditEvent[] = [];
      let last: Row | null = null;
      let more = false;
      const rows = new MergedRows(run.plans, run.views, q, cursor, counter);
      try {
        for (let row = rows.next(); row !== null; row = rows.next()) {
          if (row.residual !== 0 && !matchesResidual(row.event(), q, row.residual)) continue;
          if (events.length === limit) {
            more = true;
            break;
          }
          events.push(this.revealed(row.event()));
          last = row;
        }
      } finally {
        rows.close();
      }
      this.lastPage.run = run;
      this.lastPage.rows = rows;
      this.lastPage.last = last;
      const result: QueryResult = { events };
      // The fingerprint only when a cursor is returned: hashing the filters cost 5% of a warm query.
      if (more && last) result.nextCursor = encodeCursor(cursorOf(last), queryFingerprint(q));
      return { result, plans: run.plans };
    } finally {
      run.close();
    }
  }

  /**
   * Snapshots of the shards a query needs and the plan of each tenant in them; `scoped` when the
   * caller closes the run in a `finally` of the same synchronous call (Database.readScoped).
   */
  private openRun(q: NormalQuery, scoped: boolean): QueryRun {
    this.assertOpen();
    const run = new QueryRun();
    try {
      if (q.allTenants) for (let s = 0; s < this.mgr.shardCount; s++) this.planShard(q, s, run, scoped);
      else this.planShard(q, this.shardOf(q.tenantId!), run, scoped);
      return run;
    } catch (err) {
      run.close();
      throw err;
    }
  }

  /** Opens shard `s`'s snapshot into `run` and plans the query's tenants in it. */
  private planShard(q: NormalQuery, s: number, run: QueryRun, scoped: boolean): void {
    const db = this.mgr.shardAt(s);
    const view = openView(s, db.path, scoped ? db.readScoped() : db.read());
    run.views.set(s, view);
    const stats = view.snap.table(T_STATS);
    if (q.allTenants) {
      for (const [no, id] of this.tenantLists.tenants(view.snap)) {
        if (id === SYSTEM_TENANT) continue;
        const plan = planTenant(q, s, no, id, this.totalsCache.totals(view.snap, stats, no), stats, view.index);
        if (plan) run.plans.push(plan);
      }
      return;
    }
    const no = this.tenantCache[s]!.get(q.tenantId!) ?? lookupTenant(view.snap.table(T_TENANTS), q.tenantId!);
    if (no === undefined) return;
    this.tenantCache[s]!.set(q.tenantId!, no);
    const plan = planTenant(q, s, no, q.tenantId!, this.totalsCache.totals(view.snap, stats, no), stats, view.index);
    if (plan) run.plans.push(plan);
  }

  // ---------------------------------------------------------------- change feed

  /**
   * The change feed of one shard: every event inserted after position `after`, in commit order,
   * with its sequence number (resume with the last one you processed). Throws FeedPositionError if
   * `after` is older than the oldest entry still held.
   */
  changes(options: ChangesOptions): Iterable<ChangeEntry> {
    this.assertOpen();
    if (typeof options !== 'object' || options === null) throw new ValidationError('changes() takes { shard, after?, limit? }');
    for (const k of Object.keys(options)) if (!['shard', 'after', 'limit'].includes(k)) throw new ValidationError(`unknown changes() option ${JSON.stringify(k)}; use shard, after, limit`);
    const after = options.after ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) throw new ValidationError(`changes() option after must be a non-negative integer, got ${describe(options.after)}`);
    const limit = options.limit ?? Infinity;
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) throw new ValidationError(`changes() option limit must be a positive integer, got ${describe(options.limit)}`);
    const snap = this.mgr.shardAt(options.shard).read();
    const it = readFeed(snap, options.shard, after, limit);
    // Check the position now, not at the first next(), so a bad position fails at the call.
    const first = it.next();
    return (function* () {
      if (first.done) return;
      yield first.value;
      yield* it;
    })();
  }

  // ---------------------------------------------------------------- retention

  /**
   * Deletes the events older than the retention policies allow (option `retention`), with all
   * their index entries, in transactions of at most 1,000 events. Tenants under legal hold are
   * skipped. The purge itself is recorded in the system tenant.
   */
  purgeExpired(options?: { now?: number; policies?: RetentionPolicy[] }): PurgeReport {
    this.assertOpen();
    const now = options?.now ?? Date.now();
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new ValidationError('purgeExpired option now must be epoch milliseconds');
    const policies = options?.policies !== undefined ? checkRetention(options.policies) : this.audit.retention;
    const byTenant = new Map<string, RetentionPolicy[]>();
    for (const p of policies) {
      let l = byTenant.get(p.tenantId);
      if (!l) byTenant.set(p.tenantId, (l = []));
      l.push(p);
    }
    const result: PurgeReport = { purged: 0, heldTenants: [], perTenant: [] };
    try {
      for (const [tenantId, list] of byTenant) {
        const s = this.shardOf(tenantId);
        const db = this.mgr.shardAt(s);
        if (isHeld(db, tenantId)) {
          result.heldTenants.push(tenantId);
          continue;
        }
        const no = lookupTenant(db.table(T_TENANTS), tenantId);
        if (no === undefined) continue;
        const n = purgeTenant(db, no, list, now);
        if (n > 0) trimFeed(db);
        result.purged += n;
        result.perTenant.push({ tenantId, purged: n });
      }
    } catch (err) {
      this.recordOperation('store.purge', 'failure', { error: String((err as Error)?.message ?? err), purged: result.purged });
      throw err;
    }
    this.recordOperation('store.purge', 'success', {
      purged: result.purged,
      heldTenants: result.heldTenants,
      perTenant: result.perTenant.map((t) => ({ tenantId: t.tenantId, purged: t.purged })),
      now,
    });
    return result;
  }

  /** Puts a tenant under legal hold (purges skip it) or lifts the hold. Durable when it returns. */
  setLegalHold(tenantId: string, on: boolean): void {
    this.assertOpen();
    if (typeof tenantId !== 'string' || tenantId.length === 0) throw new ValidationError('setLegalHold needs a non-empty tenantId');
    if (typeof on !== 'boolean') throw new ValidationError(`setLegalHold's second argument must be a boolean, got ${describe(on)}`);
    const s = this.shardOf(tenantId);
    this.writeShard(s, (tx) => {
      if (on) tx.table(T_META).put(holdKey(tenantId), Buffer.from([1]));
      else tx.table(T_META).remove(holdKey(tenantId));
    });
    this.recordOperation(on ? 'store.legal_hold.set' : 'store.legal_hold.release', 'success', { tenantId });
  }

  /** True when the tenant is under legal hold. */
  isLegalHold(tenantId: string): boolean {
    this.assertOpen();
    return isHeld(this.mgr.shardAt(this.shardOf(tenantId)), tenantId);
  }

  // ---------------------------------------------------------------- operations

  /** Online backup of the whole store (see RedbManager.backup), recorded in the system tenant. */
  async backup(dir: string, options?: BackupOptions): Promise<BackupReport> {
    this.assertOpen();
    try {
      const r = await this.mgr.backup(dir, options);
      saveStoreFiles(this.mgr.options.baseDir, r.dir);
      this.recordOperation('store.backup', 'success', { dir: path.resolve(dir), incremental: options?.since !== undefined });
      return r;
    } catch (err) {
      this.recordOperation('store.backup', 'failure', { dir: String(dir), error: String((err as Error)?.message ?? err) });
      throw err;
    }
  }

  /**
   * Replaces this store's contents with the backup in `dir` (verified first; a damaged backup is
   * refused and the store left as it was): closes the shards, restores into the store's directory,
   * reopens, and records the restore in the system tenant.
   */
  async restore(dir: string): Promise<RestoreReport> {
    this.assertOpen();
    if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('restore needs the backup directory');
    // Verify before closing anything, so a damaged backup leaves the store open and as it was.
    const verify = RedbManager.verifyBackup(dir);
    if (!verify.ok) {
      this.recordOperation('store.restore', 'failure', { dir: path.resolve(dir), error: 'the backup failed verification' });
      throw new BackupCorruptionError(path.resolve(dir), verify.issues.map(String), 'the store was left as it was');
    }
    const baseDir = this.mgr.options.baseDir;
    const options = this.redbOptions ?? this.mgrOptionsForReopen();
    if (this.overSingleton) closeRedbManager();
    else this.mgr.close();
    let r: RestoreReport;
    try {
      r = RedbManager.restore(dir, baseDir, { force: true });
      restoreStoreFiles(dir, baseDir);
    } finally {
      this.mgr = this.overSingleton ? initRedbManager(options) : RedbManager.open(options);
      this.resetCaches();
    }
    recoverOnce(this.mgr);
    // A backup taken by an earlier version restores in the layout of its index.
    upgradeIndexLayout(this.mgr);
    this.recordOperation('store.restore', 'success', { dir: path.resolve(dir) });
    return r;
  }

  /** Rotates the encryption key of every shard (see RedbManager.rotateKey), recorded in the system tenant. */
  rotateKey(newKey: KeySource): void {
    this.assertOpen();
    this.mgr.rotateKey(newKey);
    this.recordOperation('store.rotate_key', 'success', {});
  }

  /**
   * Overall and per-shard health (RedbManager.health), the registered components' (a forwarder's
   * lag, say), and `warnings` about how the store's keys are kept (a checkpoint signing key or
   * personal-data key generated inside the store's directory).
   */
  health(): AuditHealthReport & { warnings: string[] } {
    return { ...this.healthSources.health(this.mgr.health()), warnings: [...(this.integrity?.warnings() ?? []), ...this.integrityWarnings] };
  }

  /** Prometheus text metrics of every shard (RedbManager.metrics) and of the registered components. */
  metrics(): string {
    return this.healthSources.metrics(this.mgr.metrics());
  }

  /** Adds a component's health and metrics to this store's; the returned function removes them. */
  registerHealthSource(name: string, source: HealthSource): () => void {
    return this.healthSources.register(name, source);
  }

  /**
   * Verifies every shard (RedbManager.verify) and, with integrity on, every tenant's log against its
   * events and checkpoints (verifyTenant). `ok` only when both find nothing.
   */
  verify(): { ok: boolean; shards: VerifyReport[]; integrity: TenantVerifyReport[] } {
    this.assertOpen();
    const engine = this.mgr.verify();
    const integrity: TenantVerifyReport[] = [];
    if (this.integrity !== null) {
      for (let s = 0; s < this.mgr.shardCount; s++) {
        const tenants = new Set<string>();
        try {
          for (const t of this.integrity.tenantsOfShard(s)) tenants.add(t);
          const snap = this.mgr.shardAt(s).read();
          try {
            for (const [, id] of listTenants(snap.table(T_TENANTS))) tenants.add(id);
          } finally {
            snap.close();
          }
        } catch (err) {
          integrity.push({ tenantId: `(shard ${s})`, ok: false, size: 0, checkedEvents: 0, purgedLeaves: 0, checkpoints: 0, rootHash: '', issues: [{ kind: 'unreadable', message: `listing the tenants of shard ${s}: ${(err as Error).message}` }] });
          continue;
        }
        for (const t of tenants) integrity.push(this.verifyTenant(t));
      }
    }
    return { ok: engine.ok && integrity.every((r) => r.ok), shards: engine.shards, integrity };
  }

  // ---------------------------------------------------------------- integrity

  private requireIntegrity(): IntegrityService {
    this.assertOpen();
    if (this.integrity === null) throw new ValidationError('integrity is off for this store (option integrity.enabled: false); open it with integrity on to use checkpoints and proofs');
    return this.integrity;
  }

  private wantsProofs(format: ExportFormat, options: ExportOptions | undefined): boolean {
    if (!options?.withProofs) return false;
    for (const k of Object.keys(options)) if (k !== 'withProofs') throw new ValidationError(`unknown export option ${JSON.stringify(k)}`);
    if (format !== 'ndjson') throw new ValidationError(`withProofs writes an NDJSON proof bundle; use format 'ndjson', not ${JSON.stringify(format)}`);
    this.requireIntegrity();
    return true;
  }

  /** The tenant's latest signed checkpoint, or with `fresh: true` one signed now for the current size. */
  getCheckpoint(tenantId: string, options?: { fresh?: boolean }): Checkpoint {
    return this.requireIntegrity().getCheckpoint(checkTenant(tenantId), options);
  }

  /** The tenant's checkpoint history, oldest first (the newest `limit` when given). */
  listCheckpoints(tenantId: string, options?: { limit?: number }): Checkpoint[] {
    return this.requireIntegrity().listCheckpoints(checkTenant(tenantId), options);
  }

  /** The checkpoint signing key's public half: name, key ID, raw key and signed-note verifier key. */
  checkpointPublicKey(): CheckpointPublicKey {
    return this.requireIntegrity().publicKey();
  }

  /** An RFC 9162 inclusion proof of an event (against `treeSize`, default the latest checkpoint). */
  proveInclusion(eventId: string, options: { tenantId: string; treeSize?: number }): InclusionProof {
    return this.requireIntegrity().proveInclusion(eventId, options);
  }

  /** An RFC 9162 consistency proof between two sizes of a tenant's log (base64 hashes). */
  proveConsistency(tenantId: string, oldSize: number, newSize: number): string[] {
    return this.requireIntegrity().proveConsistency(checkTenant(tenantId), oldSize, newSize);
  }

  /**
   * Recomputes the tenant's leaf hashes from its stored events and its tree from the leaves, and
   * reports every event edited, deleted, inserted or reordered, and, against `trustedCheckpoint` (a
   * checkpoint note kept outside the store), a truncation or a forked history.
   */
  verifyTenant(tenantId: string, trustedCheckpoint?: string): TenantVerifyReport {
    const t = checkTenant(tenantId);
    return this.requireIntegrity().verifyTenant(t, (snap) => storedEvents(snap, t), trustedCheckpoint);
  }

  // ---------------------------------------------------------------- personal data

  private revealed(e: AuditEvent): AuditEvent {
    return this.vault === null ? e : this.vault.reveal(e);
  }

  private requireVault(): PersonalDataVault {
    this.assertOpen();
    if (this.vault === null) throw new ValidationError('personal-data sealing is off for this store; open it with personalData: { enabled: true } to erase or export subjects');
    return this.vault;
  }

  /**
   * Destroys the keys of a subject (an actor id) in every tenant: their events stay, with hashes and
   * proofs intact, and their personal-data fields read back as null with `erased: true`. Recorded
   * in the system tenant.
   */
  eraseSubject(actorId: string): { actorId: string; tenants: string[] } {
    const vault = this.requireVault();
    if (typeof actorId !== 'string' || actorId.length === 0) throw new ValidationError('eraseSubject needs the actor id of the subject');
    const shards = Array.from({ length: this.mgr.shardCount }, (_, i) => this.mgr.shardAt(i));
    const tenants = vault.erase(actorId, shards);
    this.recordOperation('subject.erase', 'success', { actorId, tenants });
    return { actorId, tenants };
  }

  /**
   * Everything the store holds about a subject (an access request): every event whose actor is
   * `actorId`, in every tenant, oldest first, with personal data opened (null where erased).
   */
  exportSubject(actorId: string): { actorId: string; events: AuditEvent[]; erased: boolean } {
    this.requireVault();
    if (typeof actorId !== 'string' || actorId.length === 0) throw new ValidationError('exportSubject needs the actor id of the subject');
    const events = [...this.iterateEvents({ allTenants: true, actorId, order: 'asc' })];
    this.recordOperation('subject.export', 'success', { actorId, events: events.length });
    return { actorId, events, erased: events.some((e) => e.erased === true) };
  }

  /** Offline repair of damaged shards (RedbManager.repair); the store stays usable after it. */
  repair(): ShardRepairReport[] {
    this.assertOpen();
    const r = this.mgr.repair();
    this.resetCaches();
    return r;
  }

  /**
   * Cross-checks the audit tables of every shard (events, index entries, ids, statistics) from a
   * snapshot; `ok` is false with each problem named if anything does not match.
   */
  checkConsistency(): { ok: boolean; shards: ConsistencyReport[] } {
    this.assertOpen();
    const shards: ConsistencyReport[] = [];
    for (let i = 0; i < this.mgr.shardCount; i++) {
      const snap = this.mgr.shardAt(i).read();
      try {
        shards.push(checkShard(i, snap));
      } finally {
        snap.close();
      }
    }
    return { ok: shards.every((s) => s.problems.length === 0), shards };
  }

  /** Checkpoints every shard. */
  checkpoint(): void {
    this.assertOpen();
    this.mgr.checkpoint();
  }

  /** Closes the store (and its manager, unless it is the process-wide one). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    // Checkpoints for every tenant that grew since its last one, before the shards close. If that
    // fails the shards still close (the events are durable; only the last checkpoints are missing).
    let failure: unknown;
    try {
      if (!this.mgr.isClosed) this.integrity?.close();
    } catch (err) {
      failure = err;
    }
    this.closed = true;
    if (this.overSingleton) closeRedbManager();
    else this.mgr.close();
    if (failure !== undefined) throw failure;
  }

  get isClosed(): boolean {
    return this.closed || this.mgr.isClosed;
  }

  /** The open manager's own options, every one of them, to reopen it with (after a restore). */
  private mgrOptionsForReopen(): RedbOptions {
    const { encryptionKey, ...rest } = this.mgr.options;
    return { ...rest, ...(encryptionKey ? { encryptionKey } : {}) };
  }

  private resetCaches(): void {
    this.tenantCache = Array.from({ length: this.mgr.shardCount }, () => new Map<string, number>());
    this.pending = Array.from({ length: this.mgr.shardCount }, () => ({ intents: [], parts: [] }));
    this.shardCache.clear();
  }

  /** Records an operation in the system tenant. */
  private recordOperation(action: string, outcome: 'success' | 'failure', details: Parameters<typeof systemEvent>[3]): void {
    const { parts } = this.prepare([systemEvent(action, this.mgr.options.baseDir, outcome, details)], true);
    const part = parts[0]!;
    const r = this.writeShard(part.shard, (tx) => insertPart(tx, part.events, this.tenantCache[part.shard]!, this.hooks));
    this.afterPart(part.shard, r);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`the audit store at ${this.mgr.options.baseDir}`);
  }
}

/** Deletes the cross-shard records the store decided may go, inside a write of their shard. */
function applyPending(tx: WriteTxn, p: Pending): void {
  if (p.intents.length > 0) {
    const t = tx.table(T_INTENTS);
    for (const { batchId } of p.intents) t.remove(batchId);
  }
  if (p.parts.length > 0) {
    const t = tx.table(T_PARTS);
    for (const b of p.parts) t.remove(b);
  }
}

function checkTenant(tenantId: unknown): string {
  if (typeof tenantId !== 'string' || tenantId.length === 0) throw new ValidationError(`a tenant id must be a non-empty string, got ${describe(tenantId)}`);
  return tenantId;
}

function report(events: readonly PreparedEvent[], inserted: number): InsertReport {
  const ids = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) ids[i] = events[i]!.id;
  return { inserted, duplicates: events.length - inserted, ids };
}

function cursorOf(row: Row): CursorPos {
  return { ts: row.ts, tenantId: row.tenantId, id: Buffer.from(row.id) };
}

/** The process-wide store's alias, as the seed guides name it. */
export type AuditStore = RedbAuditStore;

/**
 * Initialises the process-wide RedbManager with the RedbOptions part of `options` and returns an
 * audit store over it (the seed guides' `init_audit_redb`). Later `RedbAuditStore.newWithManager()`
 * calls return stores over the same manager.
 */
export function initAuditRedb(options?: AuditStoreOptions): RedbAuditStore {
  return RedbAuditStore.initSingleton(options);
}

/** The snapshots a query reads (one per shard it needs) and its tenant plans; close() ends the snapshots. */
class QueryRun {
  readonly plans: TenantPlan[] = [];
  readonly views = new Map<number, ShardView>();

  close(): void {
    for (const v of this.views.values()) v.snap.close();
  }
}
