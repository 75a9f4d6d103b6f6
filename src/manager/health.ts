/**
 * Store health: per-shard checks rolled up into 'healthy', 'degraded' or 'unhealthy', like the seed
 * guides' health checks. Every problem is named, so the report says what to do.
 *
 * unhealthy: a shard is not open; its last verify found problems; disk free below 1% or 64 MiB.
 * degraded:  the last automatic checkpoint failed; unflushed WAL above 4x checkpointWalBytes;
 *            changes waiting longer than 10 checkpoint intervals; disk free below 10%; a repair of
 *            the shard lost data and no operator has acknowledged it yet (the loss history,
 *            loss-history.ts, keeps this across reopens).
 */
import fs from 'node:fs';
import type { Database } from '../shard/database.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** The last verify() of a shard. */
export interface VerifyRecord {
  ok: boolean;
  at: string;
  issues: number;
}

/** Health of one shard. */
export interface ShardHealth {
  shard: number;
  status: HealthStatus;
  open: boolean;
  /** Milliseconds since the last checkpoint of this process (null: none yet). */
  lastCheckpointAgeMs: number | null;
  /** WAL bytes written since the last checkpoint. */
  walBytes: number;
  diskFreeBytes: number;
  cacheHitRatio: number;
  lastVerify: VerifyRecord | null;
  /** Acknowledged commits repairs of this shard lost that no operator has acknowledged yet (0: none). */
  lostCommits: number;
  problems: string[];
}

/** The result of RedbManager.health(). */
export interface HealthReport {
  status: HealthStatus;
  checkedAt: string;
  shards: ShardHealth[];
}

const RANK: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

function worst(a: HealthStatus, b: HealthStatus): HealthStatus {
  return RANK[a] >= RANK[b] ? a : b;
}

export function statusRank(s: HealthStatus): number {
  return RANK[s];
}

/** Free bytes and free fraction of the file system holding `dir`. */
function diskFree(dir: string): { bytes: number; fraction: number } {
  const s = fs.statfsSync(dir);
  return { bytes: s.bavail * s.bsize, fraction: s.blocks > 0 ? s.bavail / s.blocks : 1 };
}

export function shardHealth(
  index: number,
  db: Database | null,
  dir: string,
  lastVerify: VerifyRecord | null,
  limits: { checkpointIntervalMs: number; checkpointWalBytes: number },
  openedAt: number,
  losses: { notes: readonly string[]; lostCommits: number },
): ShardHealth {
  const problems: string[] = [];
  let status: HealthStatus = 'healthy';
  const flag = (s: HealthStatus, problem: string): void => {
    status = worst(status, s);
    problems.push(problem);
  };
  for (const note of losses.notes) flag('degraded', note);
  const lostCommits = losses.lostCommits;
  const disk = diskFree(dir);
  if (disk.fraction < 0.01 || disk.bytes < 64 * 1024 * 1024) flag('unhealthy', `only ${disk.bytes} bytes free on the disk: commits will soon fail; free space`);
  else if (disk.fraction < 0.1) flag('degraded', `less than 10% of the disk is free (${disk.bytes} bytes)`);
  if (lastVerify && !lastVerify.ok) flag('unhealthy', `the last verify found ${lastVerify.issues} problem(s); run repair`);
  if (!db || db.isClosed) {
    flag('unhealthy', 'the shard is not open');
    return { shard: index, status, open: false, lastCheckpointAgeMs: null, walBytes: 0, diskFreeBytes: disk.bytes, cacheHitRatio: 0, lastVerify, lostCommits, problems };
  }
  // Not the tables' entry counts: health is polled while commits go on, and those cost a tree lookup per key written.
  const st = db.stats({ tables: false });
  const since = st.lastCheckpointAt ?? openedAt;
  const age = Date.now() - since;
  if (st.lastCheckpointError) flag('degraded', `the last automatic checkpoint failed: ${st.lastCheckpointError}`);
  if (st.walBytesSinceCheckpoint > 4 * limits.checkpointWalBytes) flag('degraded', `${st.walBytesSinceCheckpoint} WAL bytes wait for a checkpoint`);
  const interval = limits.checkpointIntervalMs > 0 ? limits.checkpointIntervalMs : 60_000;
  if (st.txn !== st.checkpointTxn && age > 10 * interval) flag('degraded', `changes have waited ${Math.round(age / 1000)} s for a checkpoint`);
  return {
    shard: index,
    status,
    open: true,
    lastCheckpointAgeMs: st.lastCheckpointAt === null ? null : age,
    walBytes: st.walBytesSinceCheckpoint,
    diskFreeBytes: disk.bytes,
    cacheHitRatio: st.cache.hitRatio,
    lastVerify,
    lostCommits,
    problems,
  };
}

export function rollUp(shards: ShardHealth[]): HealthReport {
  return { status: shards.reduce<HealthStatus>((s, h) => worst(s, h.status), 'healthy'), checkedAt: new Date().toISOString(), shards };
}
