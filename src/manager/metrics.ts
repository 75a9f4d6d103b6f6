/**
 * Prometheus text exposition (format 0.0.4) of every shard's counters and gauges, labelled by shard
 * (and table for the per-table gauges). Everything here is cheap to read: a scrape must not take
 * the writer's time. Names follow Prometheus conventions: `_total` for counters, base
 * units (bytes, seconds).
 */
import type { DatabaseStats } from '../shard/stats.js';
import { statusRank, type ShardHealth } from './health.js';

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  value: (s: DatabaseStats) => number;
}

const FAMILIES: Family[] = [
  { name: 'redb_commits_total', help: 'Commits since the shard was opened.', type: 'counter', value: (s) => s.commits },
  { name: 'redb_wal_bytes_written_total', help: 'Bytes appended to the WAL since open.', type: 'counter', value: (s) => s.walBytesWritten },
  { name: 'redb_page_bytes_written_total', help: 'Bytes of blocks written to the page file by checkpoints since open.', type: 'counter', value: (s) => s.blockBytesWritten },
  { name: 'redb_page_bytes_read_total', help: 'Bytes read from the page file since open.', type: 'counter', value: (s) => s.pageBytesRead },
  { name: 'redb_cache_hits_total', help: 'Node cache hits.', type: 'counter', value: (s) => s.cache.hits },
  { name: 'redb_cache_misses_total', help: 'Node cache misses (nodes read from disk).', type: 'counter', value: (s) => s.cache.misses },
  { name: 'redb_checkpoints_total', help: 'Checkpoints written since open.', type: 'counter', value: (s) => s.checkpoints },
  { name: 'redb_checkpoint_seconds_total', help: 'Time spent writing checkpoints.', type: 'counter', value: (s) => s.checkpointMsTotal / 1000 },
  { name: 'redb_compactions_total', help: 'Compactions since open.', type: 'counter', value: (s) => s.compactions },
  { name: 'redb_wal_bytes', help: 'WAL bytes written since the last checkpoint.', type: 'gauge', value: (s) => s.walBytesSinceCheckpoint },
  { name: 'redb_page_file_bytes', help: 'Size of the page file.', type: 'gauge', value: (s) => s.pageFileBytes },
  { name: 'redb_free_bytes', help: 'Page file bytes free or waiting to be reusable.', type: 'gauge', value: (s) => s.freeBytes },
  { name: 'redb_cache_bytes', help: 'Memory used by decoded nodes.', type: 'gauge', value: (s) => s.cache.usedBytes },
  { name: 'redb_compression_ratio', help: 'Raw bytes per stored byte of tree leaves, as last measured.', type: 'gauge', value: (s) => s.compressionRatio },
  { name: 'redb_open_snapshots', help: 'Snapshots open on the shard.', type: 'gauge', value: (s) => s.openSnapshots },
  { name: 'redb_last_txn', help: 'Id of the last committed transaction.', type: 'gauge', value: (s) => s.txn },
];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

/** The exposition text for the open shards' stats and every shard's health. */
export function renderMetrics(stats: (DatabaseStats | null)[], health: ShardHealth[]): string {
  const lines: string[] = [];
  for (const f of FAMILIES) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    stats.forEach((s, shard) => {
      if (s) lines.push(`${f.name}{shard="${shard}"} ${num(f.value(s))}`);
    });
  }
  // Not exact entry counts: those take a tree lookup per write since the last count, seconds of
  // the writer's time per scrape during heavy ingest. The two below cost nothing and add up to the
  // same picture (exact as of the newest checkpoint, plus the writes since).
  lines.push('# HELP redb_folded_entries Entries in the table\'s B-tree: every write up to the newest checkpoint.', '# TYPE redb_folded_entries gauge');
  stats.forEach((s, shard) => {
    for (const t of s?.trees ?? []) lines.push(`redb_folded_entries{shard="${shard}",table="${escapeLabel(t.name)}"} ${t.foldedEntries}`);
  });
  lines.push('# HELP redb_pending_writes Writes to the table held in memory since the newest checkpoint, not folded into its tree yet.', '# TYPE redb_pending_writes gauge');
  stats.forEach((s, shard) => {
    for (const t of s?.trees ?? []) lines.push(`redb_pending_writes{shard="${shard}",table="${escapeLabel(t.name)}"} ${t.pendingWrites}`);
  });
  lines.push('# HELP redb_health Shard health: 0 healthy, 1 degraded, 2 unhealthy.', '# TYPE redb_health gauge');
  for (const h of health) lines.push(`redb_health{shard="${h.shard}"} ${statusRank(h.status)}`);
  lines.push('# HELP redb_disk_free_bytes Free bytes on the disk holding the shard.', '# TYPE redb_disk_free_bytes gauge');
  for (const h of health) lines.push(`redb_disk_free_bytes{shard="${h.shard}"} ${h.diskFreeBytes}`);
  lines.push('# HELP redb_lost_commits Acknowledged commits repairs lost that no operator has acknowledged yet.', '# TYPE redb_lost_commits gauge');
  for (const h of health) lines.push(`redb_lost_commits{shard="${h.shard}"} ${h.lostCommits}`);
  return `${lines.join('\n')}\n`;
}
