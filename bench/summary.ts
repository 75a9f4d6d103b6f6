// Turns the per-round results into medians and spreads, and cross-checks the engines' answers.

import type { EngineName } from './engines/index.js';
import { WORKLOADS, type Digests, type Measure, type SuiteResult, type WorkloadName } from './workloads.js';

export interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, rounds: sorted.length };
}

export interface EngineRun {
  engine: EngineName;
  round: number;
  result: SuiteResult;
}

export interface EngineSummary {
  engine: EngineName;
  workloads: Record<WorkloadName, Spread>;
  /** Raw write+fdatasync rate measured between this engine's single durable commits. */
  adjacentFdatasync: Spread;
  footprint: { afterBulk: Spread; afterDelete: Spread };
}

export function summarise(engine: EngineName, runs: readonly EngineRun[]): EngineSummary | undefined {
  const mine = runs.filter((r) => r.engine === engine);
  if (mine.length === 0) return undefined;
  const workloads = {} as Record<WorkloadName, Spread>;
  for (const name of WORKLOADS) {
    workloads[name] = spread(mine.map((r) => r.result.workloads[name].opsPerSec));
  }
  return {
    engine,
    workloads,
    adjacentFdatasync: spread(mine.map((r) => r.result.adjacentFdatasync.opsPerSec)),
    footprint: {
      afterBulk: spread(mine.map((r) => r.result.footprint.afterBulk.bytes)),
      afterDelete: spread(mine.map((r) => r.result.footprint.afterDelete.bytes)),
    },
  };
}

export function summariseBaseline(measures: readonly Measure[]): Spread | undefined {
  return measures.length === 0 ? undefined : spread(measures.map((m) => m.opsPerSec));
}

/**
 * Every run must report the same digests, and the ones that follow from the sizes alone must have
 * their expected values. The reference for each field is the value most runs report, so a single
 * wrong engine is the one blamed whichever order the engines ran in. Returns one line per
 * disagreement (empty when all agree).
 */
export function crossCheck(runs: readonly EngineRun[], expected: Partial<Digests>): string[] {
  const problems: string[] = [];
  for (const run of runs) {
    const digests = run.result.digests;
    for (const [field, want] of Object.entries(expected) as [keyof Digests, Digests[keyof Digests]][]) {
      if (digests[field] !== want) {
        problems.push(`${run.engine} round ${run.round}: ${field} = ${digests[field]}, expected ${want}`);
      }
    }
  }
  const fields = runs.length > 0 ? (Object.keys(runs[0]!.result.digests) as (keyof Digests)[]) : [];
  for (const field of fields) {
    const holders = new Map<string, string[]>();
    for (const run of runs) {
      const value = String(run.result.digests[field]);
      holders.set(value, [...(holders.get(value) ?? []), `${run.engine}#${run.round}`]);
    }
    if (holders.size <= 1) continue;
    const [consensus, agreeing] = [...holders.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
    for (const [value, who] of holders) {
      if (value === consensus) continue;
      problems.push(`${field}: ${who.join(', ')} report ${value}, but ${agreeing.join(', ')} report ${consensus}`);
    }
  }
  return problems;
}
