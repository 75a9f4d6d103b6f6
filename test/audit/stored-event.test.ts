// The stored forms of an audit.events value (src/audit/stored-event.ts): events are written whole;
// earlier stores hold an event keyed by its own ULID without its id and timestamp members, and every
// read of that form puts them back so that the bytes equal the canonical JSON exactly, whatever the
// event holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { CorruptionError, RedbAuditStore } from '../../src/index.js';
import { DEFAULT_LIMITS, prepareEvent } from '../../src/audit/event-model.js';
import { eventKey, idBytes, idKeyOf, tenantLenAt } from '../../src/audit/keys.js';
import { eventJson, eventJsonAt, eventTextAt } from '../../src/audit/stored-event.js';
import { newUlid } from '../../src/audit/ulid.js';

/**
 * The split form as docs/audit.md ("Stored bytes") describes it and earlier stores wrote it: the first
 * `,"id":"<id>"` and the last `,"timestamp":<ts>` after it cut out, their offsets in the header (the
 * JSON whole when it lacks them).
 */
function splitStored(json: Buffer, id: string, ts: number): Buffer {
  const idMember = Buffer.from(`,"id":"${id}"`, 'latin1');
  const tsMember = Buffer.from(`,"timestamp":${ts}`, 'latin1');
  const a = json.indexOf(idMember);
  const t = json.lastIndexOf(tsMember);
  if (a < 0 || t < a + idMember.length) return json;
  const b = t - idMember.length;
  const varint = (v: number): number[] => {
    const out: number[] = [];
    for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v & 0x7f) | 0x80);
    out.push(v);
    return out;
  };
  return Buffer.concat([Buffer.from([1, ...varint(a), ...varint(b)]), json.subarray(0, a), json.subarray(a + idMember.length, t), json.subarray(t + tsMember.length)]);
}

const textArb = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(',"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"', ',"timestamp":5', 'é', '\u{1F600}', '"\\'));
const jsonArb = fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('id', 'timestamp')), fc.oneof(textArb, fc.integer(), fc.boolean()), { maxKeys: 4 });

const eventArb = fc.record({
  ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.constantFrom(0, 9, 10, 1_759_373_697_440, 2 ** 48 - 1, 8_640_000_000_000_000)),
  idKind: fc.constantFrom('generated', 'self', 'other-time', 'text'),
  tenantId: fc.oneof(fc.constantFrom('acme', 'täst', '租户'), fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s.trim() !== '' && !s.includes('\u0000'))),
  actorName: fc.option(textArb, { nil: undefined }),
  details: fc.option(jsonArb, { nil: undefined }),
  resourceExtra: fc.option(jsonArb, { nil: undefined }),
  correlationId: fc.option(textArb, { nil: undefined }),
});

test('every event reads back as exactly its canonical JSON, stored whole or split as earlier stores hold it', () => {
  fc.assert(
    fc.property(eventArb, (g) => {
      const input: Record<string, unknown> = {
        tenantId: g.tenantId,
        timestamp: g.ts,
        actor: g.actorName === undefined ? { id: 'u1' } : { id: 'u1', name: g.actorName },
        action: 'record.read',
        resource: { type: 'doc', id: 'd1', ...(g.resourceExtra === undefined ? {} : { extra: g.resourceExtra }) },
      };
      if (g.details !== undefined) input.details = g.details;
      if (g.correlationId !== undefined) input.correlationId = g.correlationId;
      if (g.idKind === 'self') input.id = newUlid(g.ts);
      if (g.idKind === 'other-time') input.id = newUlid(g.ts === 0 ? 1 : g.ts - 1);
      if (g.idKind === 'text') input.id = 'ext-é-1';
      let e;
      try {
        e = prepareEvent(input, DEFAULT_LIMITS, 'event');
      } catch {
        return; // an input the validator refuses (e.g. a surrogate half) is not stored at all
      }
      const key = eventKey(7, e.ts, e.idKey);
      const idKey = key.subarray(tenantLenAt(key) + 8);
      assert.deepEqual(eventJson(key, e.json), e.json);
      assert.equal(eventTextAt(e.ts, idKey, e.json), e.json.toString('utf8'));
      if (!e.selfKeyed) return;
      const stored = splitStored(e.json, e.id, e.ts);
      assert.ok(stored[0] === 1 && !stored.toString('latin1').includes(e.id) && stored.length < e.json.length - 40);
      assert.deepEqual(eventJson(key, stored), e.json);
      // The text queries parse is the same JSON decoded, also from a view that is not a Buffer.
      const view = new Uint8Array(stored.buffer, stored.byteOffset, stored.length);
      assert.equal(eventTextAt(e.ts, idKey, view), e.json.toString('utf8'));
    }),
    { numRuns: 3000 },
  );
});

test('a nested member that repeats the id or the timestamp, or JSON rewritten after it was built, still reads back exactly', () => {
  const ts = 1_759_373_697_440;
  const id = newUlid(ts);
  const e = prepareEvent({ id, tenantId: 't', timestamp: ts, actor: { id: 'u', tag: { id } }, action: 'a.b', resource: { type: 'r', id: '1' }, details: { id, timestamp: ts, t2: { timestamp: ts * 10 } }, userAgent: `,"timestamp":${ts}` }, DEFAULT_LIMITS, 'event');
  const key = eventKey(1, e.ts, e.idKey);
  const split = splitStored(e.json, e.id, e.ts);
  assert.equal(split[0], 1);
  assert.deepEqual(eventJson(key, split), e.json);
  // JSON replaced after preparation (as the personal-data vault does): shifted members.
  const rewritten = Buffer.from(e.json.toString('utf8').replace('"u"', '"sealed:0123456789"'));
  const stored = splitStored(rewritten, e.id, e.ts);
  assert.equal(stored[0], 1);
  assert.deepEqual(eventJson(key, stored), rewritten);
  assert.equal(eventTextAt(e.ts, e.idKey, stored), rewritten.toString('utf8'));
});

test('the text of a split value read under an id key that is not self-keyed is that key\'s JSON, decoded', () => {
  // Only self-keyed events were split; a split value met under another key (a damaged or foreign
  // store) still reads as eventJson's bytes, never as the scratch path's guess.
  for (const ts of [0, 9, 1_759_373_697_440, 2 ** 48 - 1]) {
    const e = prepareEvent({ id: newUlid(ts), tenantId: 't', timestamp: ts, actor: { id: 'ü' }, action: 'a.b', resource: { type: 'r', id: '1' } }, DEFAULT_LIMITS, 'event');
    const stored = splitStored(e.json, e.id, e.ts);
    assert.equal(stored[0], 1);
    assert.equal(eventTextAt(e.ts, e.idKey, stored), e.json.toString('utf8'));
    const otherKey = idKeyOf(idBytes(newUlid(ts === 0 ? 1 : ts - 1)), ts);
    assert.notEqual(otherKey[0], e.idKey[0]);
    assert.equal(eventTextAt(ts, otherKey, stored), eventJsonAt(ts, otherKey, stored).toString('utf8'));
  }
});

test('a stored event with a malformed header is a CorruptionError, not garbage', () => {
  const e = prepareEvent({ tenantId: 't', timestamp: 1_759_373_697_440, actor: { id: 'u' }, action: 'a.b', resource: { type: 'r', id: '1' } }, DEFAULT_LIMITS, 'event');
  const key = eventKey(1, e.ts, e.idKey);
  assert.throws(() => eventJson(key, Buffer.from([9, 1, 2])), CorruptionError);
  assert.throws(() => eventJson(key, Buffer.from([1, 5, 3, 0x7b, 0x7d, 0x20, 0x20, 0x20])), CorruptionError); // id after timestamp
  assert.throws(() => eventJson(key, Buffer.from([1, 0, 100, 0x7b, 0x7d])), CorruptionError); // timestamp past the JSON
  assert.throws(() => eventJson(key, Buffer.from([1, 0x80, 0x80])), CorruptionError);
});

test('events are written whole, and read back, export and verify byte for byte in either stored form', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stored-event-'));
  try {
    const store = await RedbAuditStore.open({ baseDir: dir, durability: 'none' });
    const ts = 1_759_373_697_440;
    const inputs = [
      { tenantId: 'acme', timestamp: ts, actor: { id: 'u1' }, action: 'record.read', resource: { type: 'doc', id: 'd1' }, details: { note: ',"id":"x" é' } },
      { id: newUlid(ts - 5), tenantId: 'acme', timestamp: ts, actor: { id: 'u2' }, action: 'record.read', resource: { type: 'doc', id: 'd2' } },
      { id: 'order-7', tenantId: 'acme', timestamp: ts + 1, actor: { id: 'u3' }, action: 'record.update', resource: { type: 'doc', id: 'd3' } },
    ];
    const rep = store.insertEvents(inputs);
    assert.equal(rep.inserted, 3);
    const want = inputs.map((e, i) => prepareEvent({ ...e, id: rep.ids[i] }, DEFAULT_LIMITS, 'event').json.toString('utf8'));
    const rows = () => [...store.manager.shardAt(0).table('audit.events').range()];
    // Written whole: each value is its event's canonical JSON.
    assert.deepEqual(rows().map((r) => r.value.toString('utf8')).sort(), [...want].sort());
    const readsBack = (): void => {
      const got = store.queryEvents({ tenantId: 'acme', order: 'asc' }).events.map((e) => JSON.stringify(e));
      assert.deepEqual(got.sort(), [...want].sort());
      const ndjson = store.exportEvents({ tenantId: 'acme', order: 'asc' }, 'ndjson') as string;
      assert.deepEqual(ndjson.trim().split('\n').sort(), [...want].sort());
      const changes = [...store.changes({ shard: 0, after: 0 })].map((c) => Buffer.from(c.bytes).toString('utf8'));
      assert.deepEqual(changes, want);
      assert.deepEqual(store.checkConsistency().shards.flatMap((r) => r.problems), []);
      assert.equal(store.verify().ok, true);
    };
    readsBack();
    // The generated id is a ULID of the event's own time: rewritten in the split form an earlier
    // store holds, it reads back the same everywhere.
    const first = rows().find((r) => r.value.toString('utf8') === want[0])!;
    const split = splitStored(first.value, rep.ids[0]!, ts);
    assert.equal(split[0], 1);
    store.manager.shardAt(0).write((tx) => tx.table('audit.events').put(first.key, split));
    assert.equal(rows().filter((r) => r.value[0] === 1).length, 1);
    readsBack();
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
