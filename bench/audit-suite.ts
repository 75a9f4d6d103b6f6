// One engine's run of the audit benchmark, in its own process: ingest, the four query kinds, the
// export of the largest tenant, and the footprint after close. The timed loops touch each result
// only to fold it into a digest, which the runner compares across engines (a fast wrong answer
// does not win).

import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeAuditDataset, makeQueries, type QuerySet } from './audit-data.js';
import type { AuditEngine, AuditEngineModule } from './audit-engines/types.js';
import { Digest } from './digest.js';
import { isPromise, type MaybePromise } from './engines/types.js';
import { footprint, type Footprint, type Measure } from './workloads.js';

export const EVENTS_PER_COMMIT = 1000;
export const QUERY_LIMIT = 100;

// The query kinds run twice on the reopened store: first with caches as the reopen left them (every
// page a query touches is read and decoded on first use), then again with them warm.
export const AUDIT_WORKLOADS = ['ingest', 'timeWindow', 'actor', 'actionCount', 'resource', 'timeWindowWarm', 'actorWarm', 'actionCountWarm', 'resourceWarm', 'export'] as const;
export type AuditWorkload = (typeof AUDIT_WORKLOADS)[number];

export interface AuditSizes {
  events: number;
  timeWindowQueries: number;
  actorQueries: number;
  actionCountQueries: number;
  resourceQueries: number;
}

export function auditSizes(events: number): AuditSizes {
  // A few thousand queries at full size; fewer on small runs, which exist to smoke-test.
  const scale = Math.min(1, Math.max(0.25, events / 200_000));
  return {
    events,
    timeWindowQueries: Math.round(2000 * scale),
    actorQueries: Math.round(2000 * scale),
    actionCountQueries: Math.round(500 * scale),
    resourceQueries: Math.round(2000 * scale),
  };
}

export interface AuditDigests {
  timeWindow: string;
  timeWindowRows: number;
  actor: string;
  actorRows: number;
  actionCount: string;
  actionCountTotal: number;
  resource: string;
  resourceRows: number;
  exportEvents: number;
  exportBytes: number;
  exportHash: string;
}

export interface AuditSuiteResult {
  /** Events/s through the last commit and close() (the engine's deferred work included). */
  workloads: Record<AuditWorkload, Measure>;
  /** Events/s up to the last commit, without close(). */
  ingestBeforeClose: Measure;
  footprint: Footprint & { bytesPerEvent: number };
  digests: AuditDigests;
  largestTenant: string;
}

async function settle<T>(value: MaybePromise<T>): Promise<T> {
  return isPromise(value) ? await value : value;
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function measure(ops: number, start: bigint): Measure {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { ops, seconds, opsPerSec: ops / seconds };
}

function digestEvents(d: Digest, events: readonly { id: string }[]): void {
  d.number(events.length);
  for (const e of events) d.bytes(Buffer.from(e.id));
}

async function runQueries(db: AuditEngine, q: QuerySet): Promise<Pick<AuditSuiteResult['workloads'], 'timeWindow' | 'actor' | 'actionCount' | 'resource'> & { digests: Omit<AuditDigests, 'exportEvents' | 'exportBytes' | 'exportHash'> }> {
  const window = new Digest();
  let windowRows = 0;
  collectGarbage();
  let start = process.hrtime.bigint();
  for (const w of q.timeWindow) {
    const events = await settle(db.timeWindow(w.tenantId, w.from, w.to, QUERY_LIMIT));
    windowRows += events.length;
    digestEvents(window, events);
  }
  const timeWindow = measure(q.timeWindow.length, start);

  const actorDigest = new Digest();
  let actorRows = 0;
  collectGarbage();
  start = process.hrtime.bigint();
  for (const a of q.actor) {
    const events = await settle(db.actorLatest(a.tenantId, a.actorId, QUERY_LIMIT));
    actorRows += events.length;
    digestEvents(actorDigest, events);
  }
  const actor = measure(q.actor.length, start);

  const countDigest = new Digest();
  let countTotal = 0;
  collectGarbage();
  start = process.hrtime.bigint();
  for (const c of q.actionCount) {
    const n = await settle(db.actionCount(c.tenantId, c.prefix));
    countTotal += n;
    countDigest.number(n);
  }
  const actionCount = measure(q.actionCount.length, start);

  const resourceDigest = new Digest();
  let resourceRows = 0;
  collectGarbage();
  start = process.hrtime.bigint();
  for (const r of q.resource) {
    const events = await settle(db.resourceLatest(r.tenantId, r.resourceType, r.resourceId, QUERY_LIMIT));
    resourceRows += events.length;
    digestEvents(resourceDigest, events);
  }
  const resource = measure(q.resource.length, start);
  return {
    timeWindow,
    actor,
    actionCount,
    resource,
    digests: {
      timeWindow: window.hex(),
      timeWindowRows: windowRows,
      actor: actorDigest.hex(),
      actorRows,
      actionCount: countDigest.hex(),
      actionCountTotal: countTotal,
      resource: resourceDigest.hex(),
      resourceRows,
    },
  };
}

export async function runAuditSuite(module: AuditEngineModule, dir: string, seed: number, sizes: AuditSizes): Promise<AuditSuiteResult> {
  const data = makeAuditDataset(seed, sizes.events);
  const queries = makeQueries(seed, data, { timeWindow: sizes.timeWindowQueries, actor: sizes.actorQueries, actionCount: sizes.actionCountQueries, resource: sizes.resourceQueries });
  const batches: (typeof data.events)[] = [];
  for (let i = 0; i < data.events.length; i += EVENTS_PER_COMMIT) batches.push(data.events.slice(i, i + EVENTS_PER_COMMIT));
  const dbDir = join(dir, 'db');
  mkdirSync(dbDir, { recursive: true });

  // Ingest: every batch one durable commit, timed through close().
  let db = await settle(module.open(dbDir));
  collectGarbage();
  const start = process.hrtime.bigint();
  for (const batch of batches) await settle(db.insert(batch));
  const ingestBeforeClose = measure(data.events.length, start);
  await settle(db.close());
  const ingest = measure(data.events.length, start);

  // Queries and export on the reopened store.
  db = await settle(module.open(dbDir));
  const queried = await runQueries(db, queries);
  const warm = await runQueries(db, queries);
  for (const [key, value] of Object.entries(warm.digests)) {
    if (queried.digests[key as keyof typeof queried.digests] !== value) throw new Error(`the second pass of the queries answered differently: ${key} ${value} against ${queried.digests[key as keyof typeof queried.digests]}`);
  }
  const exportPath = join(dir, 'export.ndjson');
  collectGarbage();
  const exportStart = process.hrtime.bigint();
  const out = createWriteStream(exportPath, { highWaterMark: 256 * 1024 });
  const exported = await db.exportTenant(queries.largestTenant, out);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  const exportMeasure = measure(exported, exportStart);
  await settle(db.close());

  const file = readFileSync(exportPath);
  const fp = footprint(dbDir);
  return {
    workloads: {
      ingest,
      timeWindow: queried.timeWindow,
      actor: queried.actor,
      actionCount: queried.actionCount,
      resource: queried.resource,
      timeWindowWarm: warm.timeWindow,
      actorWarm: warm.actor,
      actionCountWarm: warm.actionCount,
      resourceWarm: warm.resource,
      export: exportMeasure,
    },
    ingestBeforeClose,
    footprint: { ...fp, bytesPerEvent: fp.bytes / data.events.length },
    digests: { ...queried.digests, exportEvents: exported, exportBytes: file.length, exportHash: new Digest().bytes(file).hex() },
    largestTenant: queries.largestTenant,
  };
}
