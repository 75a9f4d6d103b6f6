// CPU-time harness for the audit store alone (no peers): ingest, queries, export and bytes/event
// measured in process CPU time (process.cpuUsage), which moves far less than wall time on a shared
// machine. Used to compare one change before and after on the same machine state.
//
//   npx tsx bench/audit-cpu.ts [--events 20000] [--durability none|immediate]
//
// Environment: ONLY=ingest stops after the ingest line; QPASSES=N runs N query passes (default 2);
// LEVEL=N opens the store with compressionLevel N; INTEGRITY=off turns the integrity log off (to
// measure the audit tables' own bytes); CACHE=N opens it with cacheSizeBytes N MiB.

import { mkdtempSync, rmSync, statSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RedbAuditStore } from '../src/index.js';
import type { AuditEventInput } from '../src/audit/types.js';
import { makeAuditDataset, makeQueries } from './audit-data.js';
import { auditSizes, EVENTS_PER_COMMIT } from './audit-suite.js';
import { footprint } from './workloads.js';

const { values } = parseArgs({ options: { events: { type: 'string' }, durability: { type: 'string' } } });
const events = Number(values.events ?? 20000);
const durability = (values.durability ?? 'none') as 'none' | 'immediate';
const extra = {
  ...(process.env.LEVEL ? { compressionLevel: Number(process.env.LEVEL) } : {}),
  ...(process.env.INTEGRITY === 'off' ? { integrity: { enabled: false } } : {}),
  ...(process.env.CACHE ? { cacheSizeBytes: Number(process.env.CACHE) << 20 } : {}),
};
const data = makeAuditDataset(20_240_601, events);
const sizes = auditSizes(events);
const q = makeQueries(20_240_601, data, { timeWindow: sizes.timeWindowQueries, actor: sizes.actorQueries, actionCount: sizes.actionCountQueries, resource: sizes.resourceQueries });

function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
const dir = mkdtempSync(join(tmpdir(), 'audit-cpu-'));
try {
  const store = await RedbAuditStore.open({ baseDir: dir, durability, ...extra });
  const c0 = cpu();
  const w0 = performance.now();
  for (let i = 0; i < data.events.length; i += EVENTS_PER_COMMIT) store.insertEvents(data.events.slice(i, i + EVENTS_PER_COMMIT) as AuditEventInput[]);
  const ingestCpu = cpu() - c0;
  store.close();
  const closeCpu = cpu() - c0 - ingestCpu;
  const ingestWall = performance.now() - w0;
  const bpe = footprint(dir).bytes / events;
  const out: string[] = [];
  out.push(`ingest ${events} ev: cpu ${ingestCpu.toFixed(2)}s + close ${closeCpu.toFixed(2)}s = ${((ingestCpu + closeCpu) * 1e6 / events).toFixed(1)} us/event cpu; wall ${(ingestWall / 1000).toFixed(2)}s; bytes/event ${bpe.toFixed(1)}`);
  if (process.env.ONLY !== 'ingest') await queriesAndExport(out);
  console.log(out.join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Both query passes and the export, on the reopened store. */
async function queriesAndExport(out: string[]): Promise<void> {
  const store = await RedbAuditStore.open({ baseDir: dir, durability, ...extra });
  let c0: number;
  for (let pass = 1; pass <= Number(process.env.QPASSES ?? 2); pass++) {
    c0 = cpu();
    let rows = 0;
    for (const t of q.timeWindow) rows += store.queryEvents({ tenantId: t.tenantId, from: t.from, to: t.to, limit: 100 }).events.length;
    const tw = cpu() - c0;
    c0 = cpu();
    for (const a of q.actor) rows += store.queryEvents({ tenantId: a.tenantId, actorId: a.actorId, limit: 100 }).events.length;
    const ac = cpu() - c0;
    c0 = cpu();
    for (const a of q.actionCount) rows += store.countEvents({ tenantId: a.tenantId, action: `${a.prefix}*` });
    const cn = cpu() - c0;
    out.push(`pass ${pass}: timeWindow ${(tw * 1e6 / q.timeWindow.length).toFixed(1)} us/q, actor ${(ac * 1e6 / q.actor.length).toFixed(1)} us/q, count ${(cn * 1e6 / q.actionCount.length).toFixed(1)} us/q (rows ${rows})`);
  }
  c0 = cpu();
  const file = join(dir, 'export.ndjson');
  const ws = createWriteStream(file);
  const r = await store.exportEventsTo({ tenantId: q.largestTenant, order: 'asc' }, 'ndjson', ws);
  const ex = cpu() - c0;
  out.push(`export ${r.events} ev: ${(ex * 1e6 / r.events).toFixed(2)} us/event cpu, ${statSync(file).size} bytes`);
  store.close();
}
