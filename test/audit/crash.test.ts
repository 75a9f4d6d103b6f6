// Crash test: a child process inserting through insertEventsAsync (group commit, batches spanning
// shards) is killed with SIGKILL; after reopening, every acknowledged batch is there with all its
// index entries, every batch is there entirely or not at all, and no index entry, id or statistic
// points at or counts a missing event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedbAuditStore } from '../../src/index.js';
import { childArgs } from '../support/child-script.js';

const CHILD = path.join(import.meta.dirname, 'crash-child.ts');
const ROUNDS = Number(process.env.AUDIT_CRASH_ROUNDS ?? 2);
const BATCH = 40;

function runAndKill(dir: string, round: number, killAfterAcks: number): Promise<Set<number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childArgs(CHILD, dir, String(round), String(BATCH)), { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Set<number>();
    let buf = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('ack ')) acked.add(Number(line.slice(4)));
        if (!killed && acked.size >= killAfterAcks) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
}

test('after kill -9 during insertEventsAsync every acknowledged event is there with its index entries, batches are all-or-nothing, nothing dangles', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-crash-'));
  try {
    const allAcked: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const acked = await runAndKill(dir, round, 5 + round * 7);
      assert.ok(acked.size > 0);
      const store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 3, checksumVerification: false });
      try {
        const present = new Set<string>();
        for (const e of store.iterateEvents({ allTenants: true })) present.add(e.id);
        for (const b of acked) for (let i = 0; i < BATCH; i++) allAcked.push(`${round}-${b}-${i}`);
        const missing = allAcked.filter((id) => !present.has(id));
        assert.deepEqual(missing, [], `acknowledged events lost after round ${round}`);
        // All or nothing per batch, acknowledged or not.
        const perBatch = new Map<string, number>();
        for (const id of present) {
          const [r, b] = id.split('-');
          if (Number(r) === round) perBatch.set(b!, (perBatch.get(b!) ?? 0) + 1);
        }
        for (const [b, n] of perBatch) assert.equal(n, BATCH, `batch ${round}-${b} is partly there (${n} of ${BATCH})`);
        const check = store.checkConsistency();
        assert.deepEqual(check.shards.flatMap((s) => s.problems), []);
        assert.ok(store.countEvents({ allTenants: true }) >= allAcked.length);
        // Indexes answer for the acknowledged events: every one is found by its actor index.
        const byActor = new Set<string>();
        for (const t of ['t-a', 't-b', 't-c', 't-d', 't-e', 't-f']) {
          for (let u = 0; u < 7; u++) for (const e of store.iterateEvents({ tenantId: t, actorId: `u${u}` })) byActor.add(e.id);
        }
        assert.equal(byActor.size, present.size);
      } finally {
        store.close();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
