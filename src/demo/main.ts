/**
 * `npm start`: the end-to-end demo on an embedded default directory (./.redb-demo). It loads a few
 * thousand records, lets a child process commit more until it is killed with SIGKILL mid-write,
 * reopens the store, checks that every commit the child saw acknowledged survived, runs verify(), and
 * prints a summary.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database } from '../index.js';

const dir = path.resolve(process.env.REDB_DEMO_DIR ?? '.redb-demo');
const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, `crash-child${path.extname(fileURLToPath(import.meta.url))}`);
const key = (n: number): Buffer => Buffer.from(`event/${String(n).padStart(8, '0')}`);

function line(label: string, value: string | number): void {
  console.log(`  ${label.padEnd(34)} ${value}`);
}

async function main(): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`redb-audit demo in ${dir}\n`);

  let started = performance.now();
  const db = Database.open(dir);
  const loaded = 5000;
  for (let batch = 0; batch < loaded; batch += 500) {
    db.write((tx) => {
      for (let n = batch; n < batch + 500; n++) tx.table('events').put(key(n), Buffer.from(JSON.stringify({ n, action: 'demo.load' })));
    });
  }
  line('loaded records (10 commits)', `${loaded} in ${(performance.now() - started).toFixed(0)} ms`);
  db.close();

  const acked = await runChildUntilKilled(loaded);
  line('child commits acknowledged', `${acked.length} (${acked[0]}..${acked[acked.length - 1]}), then SIGKILL`);

  started = performance.now();
  const reopened = Database.open(dir);
  const r = reopened.recovery;
  line('reopened after the crash in', `${(performance.now() - started).toFixed(0)} ms`);
  line('commits replayed from the WAL', r.replayedCommits);
  line('torn WAL tail cut off', r.tornTail ? `segment ${r.tornTail.segment} at ${r.tornTail.offset}` : 'none');

  const events = reopened.table('events');
  const missing = [...Array.from({ length: loaded }, (_, n) => n), ...acked].filter((n) => !events.has(key(n)));
  const last = Number(reopened.get(Buffer.from('last-commit'))?.toString());
  line('acknowledged commits missing', missing.length);
  line('last commit on disk', `${last} (last acknowledged ${acked[acked.length - 1]})`);

  const report = reopened.verify();
  line('verify()', report.ok ? `ok (${report.checked.blocks} blocks, ${report.checked.entries} entries, ${report.checked.walRecords} WAL records)` : `${report.issues.length} issues`);
  const stats = reopened.stats();
  line('events stored', events.count());
  line('page file / WAL bytes', `${stats.pageFileBytes} / ${stats.walFileBytes}`);
  reopened.close();

  const ok = missing.length === 0 && report.ok && last >= acked[acked.length - 1]!;
  console.log(`\n${ok ? 'OK: every acknowledged commit survived the crash and the store verifies clean.' : 'FAILED: see above.'}`);
  if (!report.ok) for (const issue of report.issues) console.log(`  ${issue.area} ${issue.file}@${issue.offset}: ${issue.message}`);
  process.exitCode = ok ? 0 : 1;
}

/** Runs the writer child, kills it 300 ms after its first acknowledgement, returns what it acknowledged. */
function runChildUntilKilled(start: number): Promise<number[]> {
  const child = spawn(process.execPath, [...process.execArgv, childScript, dir, String(start)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: number[] = [];
  let pending = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) if (l.startsWith('ack ')) acked.push(Number(l.slice(4)));
      if (acked.length === 1) setTimeout(() => child.kill('SIGKILL'), 300);
    });
    child.on('error', reject);
    // The child is only reaped (and its lock provably released) once it has exited.
    child.on('exit', () => (acked.length > 0 ? resolve(acked) : reject(new Error('the writer exited before committing anything'))));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
