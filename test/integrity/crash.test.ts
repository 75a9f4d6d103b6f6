import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedbAuditStore } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');

/** Runs the ingest child until it has acknowledged `minAcks` batches, then SIGKILLs it. */
function runAndKill(dir: string, minAcks: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childArgs(path.join(HERE, 'ingest-child.ts'), dir), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: Record<string, number> = {};
    let acks = 0;
    let buf = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [, tenant, count] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        acked[tenant!] = Number(count);
        if (++acks === minAcks) child.kill('SIGKILL');
      }
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(acked) : reject(new Error(`child exited without being killed: ${err}`))));
  });
}

test('after SIGKILL mid-ingest the log and the events agree and every acknowledged event is a leaf', async (t) => {
  const dir = tmpDir(t, 'integ-crash');
  const before: Record<string, number> = { a: 0, b: 0 };
  for (const minAcks of [40, 90]) {
    const acked = await runAndKill(dir, minAcks);
    const store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, integrity: { checkpointIntervalMs: 0 } });
    try {
      for (const tenant of ['a', 'b']) {
        const r = store.verifyTenant(tenant);
        assert.deepEqual(r.issues, [], `tenant ${tenant} after kill at ${minAcks} acks`);
        const stored = store.countEvents({ tenantId: tenant });
        assert.equal(r.size, stored, 'one leaf per stored event');
        const want = before[tenant]! + (acked[tenant] ?? 0);
        assert.ok(r.size >= want, `acknowledged up to ${want} events of ${tenant}, the log has ${r.size}`);
        before[tenant] = r.size;
      }
      assert.equal(store.verify().ok, true);
    } finally {
      store.close();
    }
  }
});
