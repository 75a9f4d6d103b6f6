import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify as edVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RedbAuditStore, verifyExport, type AuditEvent } from '../../src/index.js';
import type { AuditStoreOptions } from '../../src/audit/types.js';
import { canonicalJson } from '../../src/audit/canonical-json.js';
import { RedbManager } from '../../src/manager/redb-manager.js';
import { headKey, kindRange, Kind, LOG_TABLE } from '../../src/integrity/log-keys.js';
import { Frontier } from '../../src/integrity/merkle.js';
import { publicKeyFromRaw, rawPublicKey } from '../../src/integrity/signed-note.js';
import { encodeHead, TileLog } from '../../src/integrity/tile-log.js';
import { copyDir, tmpDir } from '../support/tmp.js';
import { CorruptionError } from '../../src/errors.js';
import { refCheckConsistency, refCheckInclusion, refLeaf } from './rfc9162-reference.js';

const TENANT = 'acme';

function events(n: number, from = 0, ts?: number): Parameters<RedbAuditStore['insertEvents']>[0] {
  return Array.from({ length: n }, (_, i) => ({
    id: `ev-${String(from + i).padStart(5, '0')}`,
    tenantId: TENANT,
    ...(ts !== undefined ? { timestamp: ts + i } : {}),
    actor: { id: `user-${(from + i) % 7}`, name: 'Some Name' },
    action: i % 3 === 0 ? 'record.update' : 'record.read',
    resource: { type: 'patient', id: `p-${from + i}` },
    outcome: i % 5 === 0 ? 'denied' : 'success',
  }));
}

async function openStore(dir: string, extra: Partial<AuditStoreOptions> = {}): Promise<RedbAuditStore> {
  return RedbAuditStore.open({ baseDir: dir, compression: 'none', integrity: { checkpointEvery: 100, checkpointIntervalMs: 0 }, ...extra });
}

const b = (s: string): Buffer => Buffer.from(s, 'base64');
const hashOf = (e: AuditEvent): Buffer => refLeaf(Buffer.from(canonicalJson(e), 'utf8'));

/** Checks a checkpoint note's signature with node:crypto alone, from the note text. */
function checkNoteSignature(text: string, publicKey: Buffer, name: string): { size: number; root: Buffer } {
  const at = text.indexOf('\n\n');
  const body = text.slice(0, at + 1);
  const sigLine = text.slice(at + 2, -1);
  assert.ok(sigLine.startsWith(`\u2014 ${name} `));
  const blob = b(sigLine.split(' ').pop()!);
  assert.ok(edVerify(null, Buffer.from(body), publicKeyFromRaw(publicKey), blob.subarray(4)), 'Ed25519 signature over the note text');
  const [, size, root] = body.split('\n');
  return { size: Number(size), root: b(root!) };
}

test('proofs from the store pass an independent RFC 9162 verifier against signed checkpoints', async (t) => {
  const dir = tmpDir(t, 'integ');
  const store = await openStore(dir);
  t.after(() => store.close());
  store.insertEvents(events(130));
  const old = store.getCheckpoint(TENANT);
  assert.equal(old.size, 130);
  for (let i = 130; i < 400; i += 45) store.insertEvents(events(45, i));
  const cp = store.getCheckpoint(TENANT, { fresh: true });
  const key = store.checkpointPublicKey();
  assert.equal(key.publicKey.length, 32);
  assert.ok(key.vkey.startsWith(`${key.name}+${key.keyId}+`));
  const { size, root } = checkNoteSignature(cp.text, key.publicKey, key.name);
  assert.equal(size, 400);
  assert.equal(cp.rootHash, root.toString('base64'));
  const all = [...store.iterateEvents({ tenantId: TENANT, order: 'asc' })];
  for (const e of all.filter((_, i) => i % 37 === 0)) {
    const p = store.proveInclusion(e.id, { tenantId: TENANT });
    assert.equal(p.treeSize, 400);
    assert.deepEqual(b(p.leafHash), hashOf(e), 'the leaf hash is SHA-256(0x00 || JCS of the event as queried)');
    assert.ok(refCheckInclusion(p.leafIndex, p.treeSize, hashOf(e), p.path.map(b), root), `inclusion of ${e.id}`);
  }
  const older = store.proveInclusion('ev-00005', { tenantId: TENANT, treeSize: 130 });
  assert.ok(refCheckInclusion(5, 130, b(older.leafHash), older.path.map(b), b(old.rootHash)));
  const proof = store.proveConsistency(TENANT, 130, 400);
  assert.ok(refCheckConsistency(130, 400, proof.map(b), b(old.rootHash), root));
  assert.equal(store.verifyTenant(TENANT).ok, true);
  assert.equal(store.verify().ok, true);
  assert.throws(() => store.proveInclusion('nope', { tenantId: TENANT }), /not in the log/);
  assert.throws(() => store.proveConsistency(TENANT, 10, 401), /log's size/);
});

test('leaf index is commit order within the tenant; checkpoints every checkpointEvery, on close, and listed', async (t) => {
  const dir = tmpDir(t, 'integ');
  let store = await openStore(dir, { shardingEnabled: true, shardCount: 2 });
  store.insertEvents([...events(60), ...events(60, 60).map((e) => ({ ...e, tenantId: 'other' }))]);
  store.insertEvents(events(60, 120));
  assert.equal(store.proveInclusion('ev-00130', { tenantId: TENANT }).leafIndex, 70);
  assert.deepEqual(store.listCheckpoints(TENANT).map((c) => c.size), [120]);
  store.insertEvents(events(10, 500));
  store.close();
  store = await openStore(dir, { shardingEnabled: true, shardCount: 2 });
  t.after(() => store.close());
  assert.deepEqual(store.listCheckpoints(TENANT).map((c) => c.size), [120, 130], 'close signed the grown tenant');
  assert.deepEqual(store.listCheckpoints('other').map((c) => c.size), [60]);
  assert.equal(store.getCheckpoint(TENANT).size, 130);
  assert.equal(store.verify().ok, true);
});

/** A store with 300 events, closed, tampered through the raw engine by `fn`, reopened. */
async function tampered(t: TestContext, fn: (mgr: RedbManager, trusted: string) => void): Promise<{ store: RedbAuditStore; trusted: string }> {
  const dir = tmpDir(t, 'tamper');
  const s = await openStore(dir);
  for (let i = 0; i < 300; i += 50) s.insertEvents(events(50, i));
  const trusted = s.getCheckpoint(TENANT, { fresh: true }).text;
  s.close();
  const mgr = RedbManager.open({ baseDir: dir, compression: 'none' });
  try {
    fn(mgr, trusted);
  } finally {
    mgr.close();
  }
  const store = await openStore(dir);
  t.after(() => store.close());
  return { store, trusted };
}

function eventRows(mgr: RedbManager): { key: Buffer; value: Buffer }[] {
  return [...mgr.shardAt(0).table('audit.events').range()].filter((r) => r.value.toString().includes(`"tenantId":"${TENANT}"`));
}

function expectDetected(store: RedbAuditStore, kinds: string[], trusted?: string): void {
  const r = store.verifyTenant(TENANT, trusted);
  assert.equal(r.ok, false);
  const found = new Set(r.issues.map((i) => i.kind));
  for (const k of kinds) assert.ok(found.has(k as never), `expected a ${k} finding, got ${[...found].join(', ')}`);
  const all = store.verify();
  assert.equal(all.ok, false, 'verify() reports it too');
  assert.ok(all.integrity.some((x) => x.tenantId === TENANT && !x.ok));
}

test('tampering through the raw engine is detected: an edited byte of an event record', async (t) => {
  const { store } = await tampered(t, (mgr) => {
    const row = eventRows(mgr)[123]!;
    const v = Buffer.from(row.value);
    v[v.indexOf('patient') + 1] = 'A'.charCodeAt(0);
    mgr.shardAt(0).write((tx) => tx.table('audit.events').put(row.key, v));
  });
  expectDetected(store, ['edited', 'forked']);
});

test('tampering through the raw engine is detected: a deleted, an inserted and two swapped records', async (t) => {
  const { store: deleted } = await tampered(t, (mgr) => {
    mgr.shardAt(0).write((tx) => tx.table('audit.events').delete(eventRows(mgr)[40]!.key));
  });
  expectDetected(deleted, ['deleted']);
  const { store: inserted } = await tampered(t, (mgr) => {
    const row = eventRows(mgr)[7]!;
    const key = Buffer.from(row.key);
    key[key.length - 1] = 'z'.charCodeAt(0);
    mgr.shardAt(0).write((tx) => tx.table('audit.events').put(key, row.value));
  });
  expectDetected(inserted, ['inserted']);
  const { store: swapped } = await tampered(t, (mgr) => {
    const rows = eventRows(mgr);
    const [a, c] = [rows[10]!, rows[250]!];
    mgr.shardAt(0).write((tx) => {
      tx.table('audit.events').put(a.key, c.value);
      tx.table('audit.events').put(c.key, a.value);
    });
  });
  expectDetected(swapped, ['reordered']);
});

test('tampering through the raw engine is detected: a truncated log, by stored and by trusted checkpoints', async (t) => {
  const truncate = (mgr: RedbManager, dropCheckpoints: boolean): void => {
    mgr.shardAt(0).write((tx) => {
      const table = tx.table(LOG_TABLE);
      const log = new TileLog(table, TENANT);
      const f = new Frontier(0, []);
      for (let i = 0; i < 250; i++) f.push(log.leafHashAt(i));
      table.put(headKey(TENANT), encodeHead(f));
      for (const r of eventRows(mgr).slice(250)) tx.table('audit.events').delete(r.key);
      if (dropCheckpoints) for (const { key } of [...table.range(kindRange(TENANT, Kind.Checkpoint))]) table.delete(key);
    });
  };
  const { store } = await tampered(t, (mgr) => truncate(mgr, false));
  expectDetected(store, ['truncated']);
  const { store: hidden, trusted } = await tampered(t, (mgr) => truncate(mgr, true));
  assert.ok(!hidden.verifyTenant(TENANT).issues.some((i) => i.kind === 'truncated'), 'with its checkpoints gone the store alone cannot tell');
  const r = hidden.verifyTenant(TENANT, trusted);
  assert.ok(r.issues.some((i) => i.kind === 'truncated'), 'a checkpoint held outside the store catches it');
});

test('tampering through the files is detected: a byte of an event changed in the page file', async (t) => {
  const dir = tmpDir(t, 'tamper-file');
  const s = await openStore(dir);
  s.insertEvents(events(200));
  s.close();
  const file = path.join(dir, 'shards', '000', 'data.redb');
  const bytes = fs.readFileSync(file);
  const at = bytes.indexOf('"id":"p-117"');
  assert.ok(at > 0, 'the event is in the page file in plaintext (compression off)');
  bytes[at + 9] = '9'.charCodeAt(0);
  fs.writeFileSync(file, bytes);
  const copy = `${dir}-copy`;
  copyDir(dir, copy);
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  // Without auto-recovery the engine refuses the damaged page outright.
  await assert.rejects(openStore(copy, { autoRecovery: false }), CorruptionError);
  // With it (the default) the shard is salvaged, and the log shows which events the damage took.
  const store = await openStore(dir);
  t.after(() => store.close());
  const r = store.verifyTenant(TENANT);
  assert.equal(r.ok, false, 'verifyTenant reports the events the damage took');
  assert.ok(r.issues.some((i) => i.kind === 'deleted'), r.issues.map((i) => i.kind).join());
  assert.equal(store.verify().ok, false);
});

test('purging expired events keeps their leaves: proofs and checkpoints stay valid', async (t) => {
  const dir = tmpDir(t, 'purge');
  const store = await openStore(dir);
  t.after(() => store.close());
  const day = 86_400_000;
  const now = Date.UTC(2026, 5, 1);
  store.insertEvents(events(120, 0, now - 400 * day));
  store.insertEvents(events(80, 120, now - day));
  const before = store.getCheckpoint(TENANT, { fresh: true });
  const kept = store.proveInclusion('ev-00150', { tenantId: TENANT, treeSize: 200 });
  const r = store.purgeExpired({ now, policies: [{ tenantId: TENANT, maxAgeDays: 365 }] });
  assert.equal(r.purged, 120);
  const v = store.verifyTenant(TENANT, before.text);
  assert.deepEqual(v.issues, []);
  assert.equal(v.purgedLeaves, 120);
  const again = store.proveInclusion('ev-00150', { tenantId: TENANT, treeSize: 200 });
  assert.deepEqual(again, kept);
  assert.ok(refCheckInclusion(150, 200, b(again.leafHash), again.path.map(b), b(before.rootHash)));
  assert.equal(store.verify().ok, true);
  // Closed here, not only in the after hook: node:test runs after hooks in registration order, so
  // the directory's removal would come first and close's final checkpoint would find its lock gone.
  store.close();
});

test('ids in any order, and an id inserted again after its purge, each prove inclusion at their newest leaf', async (t) => {
  const dir = tmpDir(t, 'order');
  const store = await openStore(dir);
  const day = 86_400_000;
  const now = Date.UTC(2026, 5, 1);
  // Rising ids (one run), then falling ones (a leaf entry each), then rising again.
  store.insertEvents(events(40, 0, now - 400 * day));
  store.insertEvents([...events(30, 500, now - day)].reverse());
  store.insertEvents(events(30, 900, now - day));
  assert.equal(store.purgeExpired({ now, policies: [{ tenantId: TENANT, maxAgeDays: 365 }] }).purged, 40);
  store.insertEvents(events(2, 5, now - day)); // ev-00005 and ev-00006 return as new events
  const cp = store.getCheckpoint(TENANT, { fresh: true });
  assert.equal(cp.size, 102);
  const leaves = new Map<string, number>([['ev-00005', 100], ['ev-00006', 101], ['ev-00529', 40], ['ev-00500', 69], ['ev-00900', 70], ['ev-00929', 99]]);
  for (const e of store.iterateEvents({ tenantId: TENANT, order: 'asc' })) {
    const p = store.proveInclusion(e.id, { tenantId: TENANT });
    if (leaves.has(e.id)) assert.equal(p.leafIndex, leaves.get(e.id), e.id);
    assert.deepEqual(b(p.leafHash), hashOf(e));
    assert.ok(refCheckInclusion(p.leafIndex, p.treeSize, hashOf(e), p.path.map(b), b(cp.rootHash)), e.id);
  }
  assert.equal(store.proveInclusion('ev-00007', { tenantId: TENANT }).leafIndex, 7, 'a purged event keeps its leaf');
  assert.throws(() => store.proveInclusion('ev-00499', { tenantId: TENANT }), /not in the log/);
  const v = store.verifyTenant(TENANT, cp.text);
  assert.deepEqual(v.issues, []);
  assert.equal(v.purgedLeaves, 40);
  store.close();
});

test('an export with proofs verifies offline; an edited, dropped, inserted or moved line is reported by number', async (t) => {
  const dir = tmpDir(t, 'bundle');
  const store = await openStore(dir);
  t.after(() => store.close());
  store.insertEvents(events(90));
  const text = store.exportEvents({ tenantId: TENANT, outcome: 'denied', order: 'asc' }, 'ndjson', { withProofs: true });
  const { vkey } = store.checkpointPublicKey();
  const ok = verifyExport(text, { vkey });
  assert.equal(ok.ok, true, JSON.stringify(ok.issues.slice(0, 2)));
  assert.equal(ok.events, 18);
  const lines = text.split('\n');
  const edited = [...lines];
  edited[3] = edited[3]!.replace('"denied"', '"success"');
  assert.deepEqual(verifyExport(edited.join('\n'), { vkey }).issues.map((i) => `${i.kind}@${i.line}`), ['edited@4']);
  const dropped = [...lines];
  dropped.splice(5, 1);
  assert.deepEqual(verifyExport(dropped.join('\n'), { vkey }).issues.map((i) => `${i.kind}@${i.line}`), ['dropped@6']);
  const moved = [...lines];
  [moved[2], moved[3]] = [moved[3]!, moved[2]!];
  assert.ok(verifyExport(moved.join('\n'), { vkey }).issues.every((i) => i.kind === 'reordered'));
  const streamed: string[] = [];
  const { Writable } = await import('node:stream');
  const sink = new Writable({ write: (c, _e, cb) => (streamed.push(c.toString()), cb()) });
  const rep = await store.exportEventsTo({ tenantId: TENANT, outcome: 'denied', order: 'asc' }, 'ndjson', sink, { withProofs: true });
  assert.equal(rep.events, 18);
  assert.equal(streamed.join(''), text);
  assert.throws(() => store.exportEvents({ tenantId: TENANT }, 'json', { withProofs: true }), /ndjson/);
  store.close(); // before the directory's removal, which node:test runs first (see above)
});

test('integrity can be turned off, and then its methods say so', async (t) => {
  const dir = tmpDir(t, 'off');
  const store = await openStore(dir, { integrity: { enabled: false } });
  t.after(() => store.close());
  store.insertEvents(events(5));
  assert.throws(() => store.getCheckpoint(TENANT), /integrity is off/);
  assert.equal(store.verify().ok, true);
  await assert.rejects(RedbAuditStore.open({ baseDir: tmpDir(t, 'bad'), integrity: { checkpointEvery: 0 } }), /checkpointEvery/);
});

test('a configured signing key and origin are used, and the interval timer signs checkpoints for tenants that grew', async (t) => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dir = tmpDir(t, 'key');
  const store = await RedbAuditStore.open({ baseDir: dir, integrity: { signingKey: pem, origin: 'audit.example.com', checkpointEvery: 1_000_000, checkpointIntervalMs: 10 } });
  t.after(() => store.close());
  const key = store.checkpointPublicKey();
  assert.equal(key.name, 'audit.example.com');
  assert.deepEqual(key.publicKey, rawPublicKey(privateKey));
  assert.ok(!fs.existsSync(path.join(dir, 'integrity-signing-key.pem')), 'no key is generated when one is given');
  assert.deepEqual(store.health().warnings, []);
  store.insertEvents(events(5));
  // Wait for the timer (an event to wait for, not a time limit on anything).
  for (let i = 0; i < 1000 && store.listCheckpoints(TENANT).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const [cp] = store.listCheckpoints(TENANT);
  assert.equal(cp!.size, 5);
  assert.equal(cp!.origin, 'audit.example.com/acme');
  checkNoteSignature(cp!.text, key.publicKey, key.name);
  await assert.rejects(RedbAuditStore.open({ baseDir: tmpDir(t, 'badkey'), integrity: { signingKey: 'not a key' } }), /PEM/);
});

test('a generated signing key is kept across restarts and health() warns about where it lives', async (t) => {
  const dir = tmpDir(t, 'genkey');
  let store = await openStore(dir);
  const first = store.checkpointPublicKey();
  assert.ok(store.health().warnings.some((w) => w.includes('integrity-signing-key.pem')));
  store.insertEvents(events(3));
  const cp = store.getCheckpoint(TENANT, { fresh: true });
  store.close();
  store = await openStore(dir);
  t.after(() => store.close());
  assert.equal(store.checkpointPublicKey().vkey, first.vkey);
  assert.deepEqual(store.verifyTenant(TENANT, cp.text).issues, []);
});
