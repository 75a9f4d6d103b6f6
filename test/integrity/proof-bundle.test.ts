import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { canonicalJson } from '../../src/audit/canonical-json.js';

import { formatCheckpoint } from '../../src/integrity/checkpoint-note.js';
import { ProofBundleWriter, verifyExport } from '../../src/integrity/proof-bundle.js';
import { rawPublicKey, signNote, vkeyOf } from '../../src/integrity/signed-note.js';
import { TileLog } from '../../src/integrity/tile-log.js';
import { MemKv } from './mem-kv.js';

const canonicalBytes = (v: unknown): Buffer => Buffer.from(canonicalJson(v), 'utf8');

const { privateKey } = generateKeyPairSync('ed25519');
const vkey = vkeyOf('test-key', rawPublicKey(privateKey));

function bundle(n = 20): string {
  const kv = new MemKv();
  const events = Array.from({ length: n }, (_, i) => ({ id: `ev${i}`, tenantId: 't1', action: 'record.read', actor: { id: `u${i % 3}` }, n: i }));
  new TileLog(kv, 't1').append(events.map((e) => ({ id: e.id, bytes: canonicalBytes(e) })));
  const log = new TileLog(kv, 't1');
  const note = signNote(formatCheckpoint('test/t1', n, log.currentRoot()), 'test-key', privateKey);
  const w = new ProofBundleWriter();
  let out = w.header();
  for (let i = 0; i < n; i += 2) out += w.line({ tenantId: 't1', leafIndex: i, proof: log.inclusionPath(i, n), event: events[i] });
  return out + w.trailer(new Map([['t1', note]]));
}

const kinds = (text: string): string[] => verifyExport(text, { vkey }).issues.map((i) => `${i.kind}@${i.line}`);

test('an untouched bundle verifies offline with only the verifier key', () => {
  const r = verifyExport(bundle(), { vkey });
  assert.deepEqual(r.issues, []);
  assert.equal(r.ok, true);
  assert.equal(r.events, 10);
  assert.equal(r.verified, 10);
  assert.equal(r.checkpoints[0]!.size, 20);
});

test('an edited event line is reported with its line number', () => {
  const lines = bundle().split('\n');
  lines[4] = lines[4]!.replace('"record.read"', '"record.wipe"');
  assert.deepEqual(kinds(lines.join('\n')), ['edited@5']);
});

test('a dropped line is reported at the line where it belonged', () => {
  const lines = bundle().split('\n');
  lines.splice(3, 1);
  assert.deepEqual(kinds(lines.join('\n')), ['dropped@4']);
});

test('an inserted line is reported, whether it repeats a line or is made up', () => {
  const lines = bundle().split('\n');
  lines.splice(5, 0, lines[2]!);
  assert.deepEqual(kinds(lines.join('\n')), ['inserted@6']);
  const forged = JSON.parse(bundle().split('\n')[1]!);
  forged.leafIndex = 1;
  forged.event.id = 'ev1';
  const lines2 = bundle().split('\n');
  lines2.splice(2, 0, JSON.stringify(forged));
  assert.deepEqual(kinds(lines2.join('\n')), ['edited@3', 'inserted@3']);
});

test('two swapped lines are reported as reordered', () => {
  const lines = bundle().split('\n');
  [lines[3], lines[7]] = [lines[7]!, lines[3]!];
  const k = kinds(lines.join('\n'));
  assert.ok(k.length >= 1 && k.every((x) => x.startsWith('reordered@')), k.join());
  assert.ok(k.includes('reordered@4') || k.includes('reordered@8'), k.join());
});

test('a cut-short bundle, a changed checkpoint and a wrong key are reported', () => {
  const lines = bundle().split('\n').filter(Boolean);
  assert.deepEqual(kinds(lines.slice(0, -1).join('\n') + '\n'), [`dropped@${lines.length}`]);
  const trailer = JSON.parse(lines[lines.length - 1]!);
  trailer.checkpoints.t1 = trailer.checkpoints.t1.replace('\n20\n', '\n21\n');
  const r = verifyExport([...lines.slice(0, -1), JSON.stringify(trailer)].join('\n'), { vkey });
  assert.equal(r.ok, false);
  assert.ok(r.issues.some((i) => i.kind === 'signature' && i.line === lines.length), JSON.stringify(r.issues[0]));
  assert.throws(() => verifyExport(bundle(), {} as { vkey: string }), /verifier key/);
  const other = vkeyOf('test-key', rawPublicKey(generateKeyPairSync('ed25519').privateKey));
  assert.equal(verifyExport(bundle(), { vkey: other }).ok, false);
});
