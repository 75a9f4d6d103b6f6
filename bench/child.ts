// One benchmark process: runs one engine (or the fdatasync baseline) once and reports to the
// runner over the IPC channel. Separate processes keep one engine's heap, caches and native
// threads from slowing the next one down.
//
//   child.ts <engine|fsync> <dir> <scale> <seed>

import { measureFdatasync } from './baseline.js';
import { makeDataset } from './data.js';
import { ENGINES, isEngineName } from './engines/index.js';
import { runSuite, sizesFor, type Measure, type SuiteResult } from './workloads.js';

export type ChildMessage =
  | { kind: 'engine'; result: SuiteResult }
  | { kind: 'baseline'; result: Measure }
  | { kind: 'error'; message: string };

async function main(): Promise<ChildMessage> {
  const [task, dir, scaleText, seedText] = process.argv.slice(2);
  const scale = Number(scaleText);
  const seed = Number(seedText);
  if (!task || !dir || !(scale > 0) || !Number.isInteger(seed)) {
    throw new Error(`usage: child.ts <engine|fsync> <dir> <scale> <seed>, got ${process.argv.slice(2).join(' ')}`);
  }
  if (task === 'fsync') return { kind: 'baseline', result: measureFdatasync(dir, seed) };
  if (!isEngineName(task)) throw new Error(`unknown engine ${task}`);

  const engine = await ENGINES[task].load();
  const sizes = sizesFor(scale);
  const data = makeDataset(seed, sizes);
  return { kind: 'engine', result: await runSuite(engine, `${dir}/db`, data, sizes) };
}

function report(message: ChildMessage): void {
  if (!process.send) {
    // Started by hand rather than by the runner: print instead.
    console.log(JSON.stringify(message, null, 2));
    return;
  }
  // Disconnect once delivered, so nothing keeps this process alive afterwards.
  process.send(message, () => process.disconnect?.());
}

main().then(report, (error: unknown) => {
  process.exitCode = 1;
  report({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
});
