// Sustained ingest: kv.bulk's commits (10,000 puts of 24-byte keys and 128-byte values), many more of
// them, timed to the end of close(). kv.bulk times 300,000 puts and leaves out close(), which for
// redb-audit folds the memtable into the tree and writes the checkpoint; over a longer run those
// happen inside the timing (every `memtableBytes`), so this is the rate a long ingest keeps up.
// Each engine runs in its own child process, one after the other, on the same seeded data.
// `--keys random` (the default) writes kv.bulk's random keys; `--keys ordered` writes keys that
// ascend, as an audit log's time-ordered keys do (an 8-byte counter, then 16 random bytes).
//
//   npx tsx bench/sustained.ts [--puts 1000000] [--keys random|ordered] [--engines redb,level]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chunkPairs, makeKeys, makeValues, streamRng } from './data.js';
import { ENGINES, isEngineName } from './engines/index.js';
import { isPromise } from './engines/types.js';

const PER_COMMIT = 10_000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function child(engineName: keyof typeof ENGINES, puts: number, ordered: boolean): Promise<void> {
  const keys = makeKeys(streamRng(20240601, 'sustained-keys'), puts);
  if (ordered) keys.forEach((key, i) => key.writeBigUInt64BE(BigInt(i), 0));
  const values = makeValues(streamRng(20240601, 'sustained-values'), puts);
  const commits = chunkPairs(keys, values, 0, puts, PER_COMMIT);
  const dir = mkdtempSync(join(tmpdir(), `sustained-${engineName}-`));
  try {
    const engine = await ENGINES[engineName].load();
    const db = await engine.open(dir);
    const start = process.hrtime.bigint();
    for (const commit of commits) {
      const done = db.putBatch(commit);
      if (isPromise(done)) await done;
    }
    const loaded = process.hrtime.bigint();
    const closed = db.close();
    if (isPromise(closed)) await closed;
    const end = process.hrtime.bigint();
    const s = (a: bigint, b: bigint): number => Number(b - a) / 1e9;
    process.stdout.write(JSON.stringify({ engine: ENGINES[engineName].label, puts, loadSeconds: s(start, loaded), closeSeconds: s(loaded, end) }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as keyof typeof ENGINES, Number(process.argv[4]), process.argv[5] === 'ordered');
} else {
  const puts = Number(arg('puts', '1000000'));
  const keyOrder = arg('keys', 'random');
  if (keyOrder !== 'random' && keyOrder !== 'ordered') throw new Error(`--keys must be random or ordered, got ${keyOrder}`);
  const names = arg('engines', 'redb,level').split(',');
  for (const name of names) if (!isEngineName(name)) throw new Error(`unknown engine "${name}"; known: ${Object.keys(ENGINES).join(', ')}`);
  console.log(`sustained ingest: ${puts.toLocaleString('en-US')} puts of ${keyOrder} keys in durable commits of ${PER_COMMIT.toLocaleString('en-US')}, timed to the end of close()`);
  for (const name of names) {
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), '--child', name, String(puts), keyOrder], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`${name} failed (exit ${r.status ?? r.signal}); its error output is above`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { engine: string; loadSeconds: number; closeSeconds: number };
    const total = m.loadSeconds + m.closeSeconds;
    console.log(`${m.engine.padEnd(14)} ${Math.round(puts / total).toLocaleString('en-US').padStart(9)} puts/s with close (${Math.round(puts / m.loadSeconds).toLocaleString('en-US')} before close; close ${m.closeSeconds.toFixed(2)} s)`);
  }
}
