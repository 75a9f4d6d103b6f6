// Forwarder benchmark against a throwaway PostgreSQL on loopback (the test harness's, so it needs the
// server binaries: /usr/lib/postgresql/*/bin). Two measurements:
//
//  1. rate: a store pre-filled with --events events (4 shards, 16 tenants) is forwarded by runOnce()
//     into an empty table, once per batch size x connections in --runs; events/s = events / wall
//     time, which includes connecting and creating the monthly partitions.
//  2. lag: a forwarder tails a store while events are inserted at a steady --rate events/s for
//     --seconds s (in the same process, as in an agent: durable commits of 50 events of mixed
//     tenants every 10 ms); the lag (events not yet in PostgreSQL, and how long the oldest waited)
//     is sampled every 100 ms; then the time to catch up after the ingest stops.
//
//   npx tsx bench/forward.ts [--events 100000] [--runs 1000x1,1000x2,...] [--rate 5000] [--seconds 20] [--quick]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedbAuditStore } from '../src/audit/audit-store.js';
import type { AuditEventInput } from '../src/audit/types.js';
import { Forwarder } from '../src/forward/forwarder.js';
import { PgServer, postgresSkipReason } from '../test/support/postgres.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const quick = process.argv.includes('--quick');
const EVENTS = Number(arg('events', quick ? '20000' : '100000'));
// Forwarding runs as batchSize x connections.
const RUNS = arg('runs', quick ? '1000x1,1000x2' : '1000x1,1000x2,500x2,2000x2,5000x2')
  .split(',')
  .map((r) => r.split('x').map(Number) as [number, number]);
const RATE = Number(arg('rate', '5000'));
const SECONDS = Number(arg('seconds', quick ? '5' : '20'));

function event(i: number, run: string): AuditEventInput {
  return {
    id: `${run}-${i}`,
    timestamp: Date.UTC(2026, 0, 1) + i * 60_000,
    tenantId: `tenant-${i % 16}`,
    actor: { id: `user-${i % 97}`, type: 'user' },
    action: i % 3 ? 'record.read' : 'record.update',
    resource: { type: 'record', id: `rec-${i % 1009}` },
    outcome: i % 11 === 0 ? 'failure' : 'success',
    sourceIp: '10.0.0.7',
    details: { request: `req-${i}`, bytes: i % 4096, path: `/api/v1/records/${i % 1009}` },
  };
}

function openStore(dir: string): Promise<RedbAuditStore> {
  return RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 4 });
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0;
}

async function rate(pg: PgServer): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-bench-fwd-'));
  try {
    const store = await openStore(dir);
    const t0 = Date.now();
    for (let i = 0; i < EVENTS; i += 1000) {
      const batch: AuditEventInput[] = [];
      for (let k = i; k < Math.min(EVENTS, i + 1000); k++) batch.push(event(k, 'rate'));
      store.insertEvents(batch);
    }
    console.log(`filled ${EVENTS} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const [batchSize, connections] of RUNS) {
      const fwd = new Forwarder(store, { connectionString: pg.connectionString, table: `bench_rate_${batchSize}_${connections}`, batchSize, connections });
      const r = await fwd.runOnce();
      await fwd.stop();
      const perSec = Math.round(r.forwarded / (r.durationMs / 1000));
      console.log(`rate  batch ${String(batchSize).padStart(5)} x ${connections} connection(s): ${r.forwarded} events in ${(r.durationMs / 1000).toFixed(2)} s = ${perSec} events/s (${r.batches} batches)`);
      console.log(JSON.stringify({ bench: 'forward.rate', events: r.forwarded, batchSize, connections, seconds: r.durationMs / 1000, eventsPerSec: perSec }));
    }
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function lag(pg: PgServer): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-bench-lag-'));
  try {
    const store = await openStore(dir);
    const fwd = new Forwarder(store, { connectionString: pg.connectionString, table: 'bench_lag', pollIntervalMs: 50 });
    fwd.start();
    const samples: { events: number; seconds: number }[] = [];
    const started = Date.now();
    let inserted = 0;
    const sampler = setInterval(() => {
      const l = fwd.lag();
      samples.push({ events: l.reduce((n, s) => n + s.events, 0), seconds: l.reduce((m, s) => Math.max(m, s.seconds), 0) });
    }, 100);
    // Every 10 ms, insert what the steady rate says is due (one durable commit per tick).
    while (Date.now() - started < SECONDS * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * RATE) - inserted;
      if (due > 0) {
        const batch: AuditEventInput[] = [];
        for (let k = 0; k < due; k++) batch.push(event(inserted + k, 'lag'));
        await store.insertEventsAsync(batch);
        inserted += due;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const ingestSeconds = (Date.now() - started) / 1000;
    const stopAt = Date.now();
    while (fwd.lag().some((l) => l.events > 0)) {
      if (fwd.error) throw fwd.error;
      await new Promise((r) => setTimeout(r, 10));
    }
    const catchUp = (Date.now() - stopAt) / 1000;
    clearInterval(sampler);
    await fwd.stop();
    store.close();
    const ev = samples.map((s) => s.events).sort((a, b) => a - b);
    const sec = samples.map((s) => s.seconds).sort((a, b) => a - b);
    const achieved = Math.round(inserted / ingestSeconds);
    console.log(`lag   ingest ${inserted} events in ${ingestSeconds.toFixed(1)} s (${achieved} events/s achieved, ${RATE} asked)`);
    console.log(`lag   events: median ${pct(ev, 50)}, p95 ${pct(ev, 95)}, max ${ev[ev.length - 1]}; seconds: median ${pct(sec, 50).toFixed(2)}, p95 ${pct(sec, 95).toFixed(2)}, max ${sec[sec.length - 1]!.toFixed(2)}; caught up ${catchUp.toFixed(2)} s after the ingest stopped`);
    console.log(JSON.stringify({ bench: 'forward.lag', rateAsked: RATE, rateAchieved: achieved, seconds: ingestSeconds, lagEvents: { p50: pct(ev, 50), p95: pct(ev, 95), max: ev[ev.length - 1] }, lagSeconds: { p50: pct(sec, 50), p95: pct(sec, 95), max: sec[sec.length - 1] }, catchUpSeconds: catchUp }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (postgresSkipReason) {
    console.error(postgresSkipReason);
    process.exit(1);
  }
  const pg = await PgServer.create();
  try {
    console.log(`PostgreSQL ${(await pg.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0]!.v} on 127.0.0.1:${pg.port}; ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`);
    if (!process.argv.includes('--lag-only')) await rate(pg);
    if (!process.argv.includes('--rate-only')) await lag(pg);
  } finally {
    pg.destroy();
  }
}

void main();
