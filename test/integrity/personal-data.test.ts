import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { canonicalJson } from '../../src/audit/canonical-json.js';
import { isEnvelope, openEvent, resolvePersonalDataOptions, sealEvent, SubjectKeys } from '../../src/integrity/personal-data.js';
import { ValidationError } from '../../src/errors.js';
import { MemKv } from './mem-kv.js';

const storeKey = randomBytes(32);
const fields = resolvePersonalDataOptions({ enabled: true, fields: ['actor.name', 'sourceIp', 'details.email'] }).fields;
const event = (): Record<string, unknown> => ({ id: 'e1', tenantId: 't', actor: { id: 'u1', name: 'Ada Lovelace' }, sourceIp: '10.1.2.3', details: { email: 'ada@example.com', n: 1 } });

test('sealed fields hold no plaintext and open back to the original values', () => {
  const kv = new MemKv();
  const e = event();
  assert.equal(sealEvent(e, fields, new SubjectKeys(storeKey, kv)), true);
  const text = canonicalJson(e);
  for (const secret of ['Ada Lovelace', '10.1.2.3', 'ada@example.com']) assert.ok(!text.includes(secret), secret);
  for (const v of kv.map.values()) assert.ok(!v.toString('latin1').includes('Ada'));
  assert.ok(isEnvelope((e.actor as Record<string, unknown>).name));
  const back = openEvent(JSON.parse(text), fields, new SubjectKeys(storeKey, kv));
  assert.deepEqual(back, event());
});

test('after the subject key is destroyed the fields read as null and the event is marked erased', () => {
  const kv = new MemKv();
  const e = event();
  const keys = new SubjectKeys(storeKey, kv);
  sealEvent(e, fields, keys);
  const text = canonicalJson(e);
  assert.equal(keys.erase('t', 'u1', kv), true);
  const back = openEvent(JSON.parse(text), fields, new SubjectKeys(storeKey, kv));
  assert.deepEqual(back, { id: 'e1', tenantId: 't', actor: { id: 'u1', name: null }, sourceIp: null, details: { email: null, n: 1 }, erased: true });
  // A new key for the same subject (new events after an erasure) does not open the old envelopes.
  sealEvent(event(), fields, new SubjectKeys(storeKey, kv));
  assert.equal(openEvent(JSON.parse(text), fields, new SubjectKeys(storeKey, kv)).erased, true);
});

test('an envelope moved to another event fails authentication instead of opening', () => {
  const kv = new MemKv();
  const e = event();
  sealEvent(e, fields, new SubjectKeys(storeKey, kv));
  const moved = JSON.parse(canonicalJson(e));
  moved.id = 'e2';
  assert.throws(() => openEvent(moved, fields, new SubjectKeys(storeKey, kv)), /fails authentication/);
});

test('identifying or indexed fields cannot be declared personal data', () => {
  assert.throws(() => resolvePersonalDataOptions({ fields: ['actor.id'] }), ValidationError);
  assert.throws(() => resolvePersonalDataOptions({ fields: ['tenantId'] }), ValidationError);
  assert.deepEqual(resolvePersonalDataOptions(undefined), { enabled: false, fields: [['actor', 'name'], ['sourceIp'], ['userAgent']] });
});
