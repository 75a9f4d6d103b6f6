// Plain-text tables for the terminal. Pure formatting: every number comes in already summarised.

import { ENGINES, REFERENCE_ENGINE, type EngineName } from './engines/index.js';
import type { EngineSummary, Spread } from './summary.js';
import { WORKLOADS, describeWorkloads, type Sizes } from './workloads.js';

function integer(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function range(s: Spread, format: (n: number) => string): string {
  return s.rounds === 1 ? '' : `${format(s.min)}–${format(s.max)}`;
}

/** Columns padded to their widest cell; the first `leftColumns` align left, the rest right. */
function grid(rows: readonly (readonly string[])[], leftColumns: number): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i < leftColumns ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const label = (engine: EngineName): string => ENGINES[engine].label;

/** One row per workload and engine: median ops/s, the min–max spread, and the ratio to redb-audit. */
export function throughputTable(summaries: readonly EngineSummary[], sizes: Sizes): string {
  const reference = summaries.find((s) => s.engine === REFERENCE_ENGINE);
  const refLabel = label(REFERENCE_ENGINE);
  const rows: string[][] = [['workload', 'engine', 'median ops/s', 'min–max', `vs ${refLabel}`]];
  for (const workload of WORKLOADS) {
    summaries.forEach((summary, i) => {
      const s = summary.workloads[workload];
      // ratio > 1 means the peer is faster than redb-audit on this workload.
      const ratio = reference ? `${(s.median / reference.workloads[workload].median).toFixed(2)}×` : 'n/a';
      rows.push([i === 0 ? workload : '', label(summary.engine), integer(s.median), range(s, integer), ratio]);
    });
  }
  const descriptions = describeWorkloads(sizes);
  const legend = WORKLOADS.map((name) => `  ${name.padEnd(18)} op = ${descriptions[name]}`).join('\n');
  const ratioNote = `  vs ${refLabel}: the engine's median ops/s over ${refLabel}'s (above 1: the engine is faster)`;
  return `${grid(rows, 2)}\n\n${legend}\n${ratioNote}`;
}

/** LevelDB compacts in the background, so its footprint can differ between rounds: show the spread. */
function sizeCell(s: Spread): string {
  const [min, max] = [(s.min / 2 ** 20).toFixed(1), (s.max / 2 ** 20).toFixed(1)];
  return min === max ? mib(s.median) : `${mib(s.median)} (${min}–${max})`;
}

export function footprintTable(summaries: readonly EngineSummary[]): string {
  const rows: string[][] = [['footprint (files, after close)', 'after bulk', 'after delete']];
  for (const s of summaries) {
    rows.push([label(s.engine), sizeCell(s.footprint.afterBulk), sizeCell(s.footprint.afterDelete)]);
  }
  return grid(rows, 1);
}

/**
 * The machine's floor for one durable commit, and how far each engine's single durable commit is
 * above it (latency ratio: baseline ops/s over the engine's commits/s).
 */
export function baselineTable(baseline: Spread, summaries: readonly EngineSummary[]): string {
  const spreadText = range(baseline, integer);
  const head =
    `fs.write+fdatasync baseline: ${integer(baseline.median)} ops/s` +
    (spreadText ? ` (${spreadText})` : '') +
    `, ${(1000 / baseline.median).toFixed(3)} ms per durable write`;
  const rows: string[][] = [['kv.single_durable', 'ms per commit', 'adjacent fdatasync ms', '× adjacent', '× baseline run', 'target']];
  for (const s of summaries) {
    const commits = s.workloads['kv.single_durable'].median;
    const adjacent = s.adjacentFdatasync.median;
    const target = s.engine === REFERENCE_ENGINE ? '≤ 1.30×' : '';
    rows.push([
      label(s.engine),
      (1000 / commits).toFixed(3),
      (1000 / adjacent).toFixed(3),
      `${(adjacent / commits).toFixed(2)}×`,
      `${(baseline.median / commits).toFixed(2)}×`,
      target,
    ]);
  }
  return `${head}\n${grid(rows, 1)}`;
}
