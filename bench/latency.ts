// Commit latency summaries shared by the long-running benchmarks (sustained.ts, soak.ts).

export interface Latency {
  commits: number;
  medianMs: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  p99OverMedian: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Median, p99, p99.9 and max of the given commit latencies (ms); null when there are none. */
export function latencyOf(ms: Float64Array): Latency | null {
  if (ms.length === 0) return null;
  const sorted = Float64Array.from(ms).sort();
  const median = percentile(sorted, 0.5);
  const p99 = percentile(sorted, 0.99);
  return { commits: ms.length, medianMs: median, p99Ms: p99, p999Ms: percentile(sorted, 0.999), maxMs: sorted[sorted.length - 1]!, p99OverMedian: p99 / median };
}
