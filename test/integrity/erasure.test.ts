import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RedbAuditStore, verifyExport } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';
import { refCheckInclusion } from './rfc9162-reference.js';

const MARKER = 'PDMARKER';
const b = (s: string): Buffer => Buffer.from(s, 'base64');

function filesContain(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const p = path.join(entry.parentPath ?? dir, entry.name);
    if (fs.readFileSync(p).includes(needle)) hits.push(p);
  }
  return hits;
}

test('personal data never reaches a file; erasure destroys it and every hash and proof still verifies', async (t) => {
  const dir = tmpDir(t, 'erase');
  const open = (): Promise<RedbAuditStore> =>
    RedbAuditStore.open({ baseDir: dir, compression: 'none', personalData: { enabled: true, fields: ['actor.name', 'sourceIp', 'userAgent', 'details.email'] }, integrity: { checkpointIntervalMs: 0 } });
  let store = await open();
  const batch = Array.from({ length: 60 }, (_, i) => ({
    id: `e${i}`,
    tenantId: 'clinic',
    actor: { id: `user-${i % 3}`, name: `${MARKER}-name-${i % 3}` },
    action: 'record.read',
    resource: { type: 'patient', id: `p${i}` },
    sourceIp: `${MARKER}-ip-${i}`,
    userAgent: `${MARKER}-ua`,
    details: { email: `${MARKER}-${i}@example.com`, reason: 'care' },
  }));
  store.insertEvents(batch.slice(0, 30));
  await store.insertEventsAsync(batch.slice(30));
  const read = store.queryEvents({ tenantId: 'clinic', actorId: 'user-1', limit: 100 }).events;
  assert.equal(read.length, 20);
  assert.equal(read[0]!.actor.name, `${MARKER}-name-1`, 'reads open the sealed fields');
  assert.ok(read[0]!.sourceIp!.startsWith(`${MARKER}-ip-`));
  assert.equal(read[0]!.erased, undefined);
  store.checkpoint();
  assert.deepEqual(filesContain(dir, MARKER), [], 'no file holds the personal data in clear');

  const cp = store.getCheckpoint('clinic', { fresh: true });
  const proofs = ['e1', 'e4', 'e2'].map((id) => store.proveInclusion(id, { tenantId: 'clinic' }));
  const bundle = store.exportEvents({ tenantId: 'clinic', order: 'asc' }, 'ndjson', { withProofs: true });
  assert.ok(!bundle.includes(MARKER), 'the bundle carries the envelopes');

  const erased = store.eraseSubject('user-1');
  assert.deepEqual(erased.tenants, ['clinic']);
  const after = store.queryEvents({ tenantId: 'clinic', actorId: 'user-1', limit: 100 }).events;
  assert.equal(after.length, 20, 'the events stay');
  for (const e of after) {
    assert.equal(e.erased, true);
    assert.equal(e.actor.name, null);
    assert.equal(e.sourceIp, null);
    assert.equal(e.userAgent, null);
    assert.equal(e.details!.email, null);
    assert.equal(e.details!.reason, 'care');
  }
  const other = store.queryEvents({ tenantId: 'clinic', actorId: 'user-2', limit: 1 }).events[0]!;
  assert.equal(other.actor.name, `${MARKER}-name-2`, 'other subjects keep their data');

  assert.deepEqual(store.verifyTenant('clinic', cp.text).issues, [], 'erasure changes no hash');
  for (const p of proofs) {
    const again = store.proveInclusion(['e1', 'e4', 'e2'][proofs.indexOf(p)]!, { tenantId: 'clinic', treeSize: p.treeSize });
    assert.deepEqual(again, p);
    assert.ok(refCheckInclusion(p.leafIndex, p.treeSize, b(p.leafHash), p.path.map(b), b(cp.rootHash)));
  }
  assert.equal(verifyExport(bundle, { vkey: store.checkpointPublicKey().vkey }).ok, true, 'a bundle made before the erasure still verifies');

  const access = store.exportSubject('user-2');
  assert.equal(access.events.length, 20);
  assert.equal(access.erased, false);
  assert.equal(store.exportSubject('user-1').erased, true);
  const log = store.queryEvents({ tenantId: '__system', action: 'subject.erase', limit: 5 }).events;
  assert.equal(log.length, 1, 'the erasure is itself an audit event');
  assert.ok(store.health().warnings.some((w) => w.includes('personal-data.key')));

  store.close();
  store = await open();
  t.after(() => store.close());
  assert.equal(store.queryEvents({ tenantId: 'clinic', actorId: 'user-1', limit: 1 }).events[0]!.erased, true, 'erasure is durable');
  assert.equal(store.verify().ok, true);
  assert.deepEqual(filesContain(dir, MARKER), []);
});
