// Bad input: every invalid field, type and option gets a ValidationError naming the field and the
// reason, and a rejected batch writes nothing. Also: events read back exactly as written.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedbAuditStore, ValidationError, createAuditEvent, type AuditEventInput } from '../../src/index.js';
import fc from 'fast-check';
import { canonicalJson, JsonWriter } from '../../src/audit/canonical-json.js';

/** A string as JsonWriter encodes it, decoded back. */
function jsonString(s: string): string {
  const w = new JsonWriter();
  w.string(s);
  return w.text();
}

let dir: string;
let store: RedbAuditStore;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-validation-'));
  store = await RedbAuditStore.open({ baseDir: dir, maxDetailsBytes: 1024, maxStringLength: 64, maxBatch: 50, checksumVerification: false });
});

after(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function good(over: Record<string, unknown> = {}): AuditEventInput {
  return { tenantId: 't1', actor: { id: 'alice' }, action: 'record.update', resource: { type: 'record', id: 'r1' }, ...over } as AuditEventInput;
}

const badEvents: [string, Record<string, unknown>, RegExp][] = [
  ['missing tenantId', { tenantId: undefined }, /tenantId must be a string/],
  ['empty tenantId', { tenantId: '' }, /tenantId must not be empty/],
  ['numeric tenantId', { tenantId: 5 }, /tenantId must be a string, got number 5/],
  ['system tenant', { tenantId: '__system' }, /tenantId "__system" is reserved/],
  ['too long tenantId', { tenantId: 'x'.repeat(65) }, /tenantId is 65 characters long; the limit is 64/],
  ['actor not an object', { actor: 'alice' }, /actor must be an object/],
  ['actor without id', { actor: { type: 'user' } }, /actor\.id is required/],
  ['actor id with NUL', { actor: { id: 'a\u0000b' } }, /actor\.id contains a NUL/],
  ['actor id a number', { actor: { id: 7 } }, /actor\.id must be a string/],
  ['actor name a number', { actor: { id: 'a', name: 3 } }, /actor\.name must be a string/],
  ['actor extra field undefined-valued array', { actor: { id: 'a', tags: [undefined] } }, /actor\.tags\[0\] is undefined/],
  ['action missing', { action: undefined }, /action must be a string/],
  ['action with spaces', { action: 'record update' }, /action "record update" must be dotted words/],
  ['action with empty segment', { action: 'record..update' }, /must be dotted words/],
  ['action with wildcard', { action: 'record.*' }, /must be dotted words/],
  ['resource missing', { resource: undefined }, /resource must be an object/],
  ['resource without id', { resource: { type: 'record' } }, /resource\.id is required/],
  ['resource without type', { resource: { id: 'r' } }, /resource\.type is required/],
  ['bad outcome', { outcome: 'ok' }, /outcome must be one of success, failure, denied, unknown/],
  ['bad severity', { severity: 'warning' }, /severity must be one of info, low, medium, high, critical, fatal/],
  ['category with NUL', { category: 'a\u0000' }, /category contains a NUL/],
  ['timestamp not a date', { timestamp: 'yesterday' }, /timestamp "yesterday" is not an ISO-8601 date-time/],
  ['timestamp fraction', { timestamp: 1.5 }, /timestamp must be whole epoch milliseconds/],
  ['negative timestamp', { timestamp: -1 }, /timestamp -1 is out of range/],
  ['invalid Date', { timestamp: new Date('nope') }, /timestamp is an invalid Date/],
  ['timestamp boolean', { timestamp: true }, /timestamp must be epoch milliseconds, an ISO-8601 string or a Date/],
  ['id too long', { id: 'x'.repeat(129) }, /id is 129 characters long; the limit is 128/],
  ['id empty', { id: '' }, /id must not be empty/],
  ['id with lone surrogate', { id: 'a\ud800' }, /id contains an unpaired surrogate/],
  ['schemaVersion other', { schemaVersion: 2 }, /schemaVersion must be 1/],
  ['details an array', { details: [1] }, /details must be a JSON object, got an array/],
  ['details with a function', { details: { f: () => 1 } }, /details\.f is a function/],
  ['details with NaN', { details: { n: NaN } }, /details\.n is NaN/],
  ['details with a bigint', { details: { n: 1n } }, /details\.n is a bigint/],
  ['details with a Date', { details: { d: new Date() } }, /details\.d is a Date/],
  ['details with undefined', { details: { u: undefined } }, /details\.u is undefined/],
  ['oversize details', { details: { blob: 'x'.repeat(2000) } }, /details is \d+ bytes as JSON; the limit is 1024 \(option maxDetailsBytes\)/],
  ['unknown field', { colour: 'red' }, /unknown field "colour"/],
  ['correlationId a number', { correlationId: 1 }, /correlationId must be a string/],
  ['sourceIp a number', { sourceIp: 10 }, /sourceIp must be a string/],
];

for (const [name, over, message] of badEvents) {
  test(`an event with ${name} is refused with a ValidationError naming the field, and nothing is written`, () => {
    const before = store.countEvents({ tenantId: 't1' });
    const batch = [good({ id: `ok-${name}` }), good(over)];
    assert.throws(() => store.insertEvents(batch), (err: unknown) => {
      assert.ok(err instanceof ValidationError, String(err));
      assert.match((err as Error).message, message);
      assert.match((err as Error).message, /^event 1/);
      return true;
    });
    assert.equal(store.countEvents({ tenantId: 't1' }), before);
    assert.equal(store.queryEvents({ tenantId: 't1', resourceType: 'record', resourceId: 'r1', limit: 10_000 }).events.filter((e) => e.id === `ok-${name}`).length, 0);
  });
}

test('batches that are not arrays, empty, or over maxBatch are refused', async () => {
  assert.throws(() => store.insertEvents('x' as never), /takes an array of events/);
  assert.throws(() => store.insertEvents([]), /the batch is empty/);
  assert.throws(() => store.insertEvents(Array.from({ length: 51 }, () => good())), /51 events; the limit is 50 \(option maxBatch\)/);
  await assert.rejects(store.insertEventsAsync([good({ severity: 'loud' })]), ValidationError);
  assert.throws(() => store.insertEvent(null as never), /event must be an object, got null/);
});

const badQueries: [string, unknown, RegExp][] = [
  ['no tenant', {}, /tenantId is required/],
  ['tenant and allTenants', { tenantId: 'a', allTenants: true }, /either tenantId or allTenants/],
  ['unknown option', { tenantId: 'a', actor: 'x' }, /unknown query option "actor"/],
  ['limit zero', { tenantId: 'a', limit: 0 }, /limit must be (an integer from 1 to 10,000|a positive integer)/],
  ['limit string', { tenantId: 'a', limit: '5' }, /limit must be (an integer|a positive integer)/],
  ['bad order', { tenantId: 'a', order: 'newest' }, /order must be 'asc' or 'desc'/],
  ['bad outcome', { tenantId: 'a', outcome: 'yes' }, /outcome must be one of/],
  ['bad severity', { tenantId: 'a', minSeverity: 'urgent' }, /minSeverity must be one of/],
  ['bad from', { tenantId: 'a', from: 'soon' }, /query option from "soon" is not an ISO-8601/],
  ['bad wildcard', { tenantId: 'a', action: 'rec*' }, /wildcard is only allowed as a final ".\*"/],
  ['actorId a number', { tenantId: 'a', actorId: 3 }, /actorId must be a non-empty string/],
  ['allTenants a string', { allTenants: 'yes' }, /allTenants must be a boolean/],
  ['garbage cursor', { tenantId: 'a', cursor: 'AAAA' }, /cursor is not valid/],
  ['not an object', 'tenant', /a query must be an object/],
];

for (const [name, q, message] of badQueries) {
  test(`a query with ${name} is refused with a ValidationError`, () => {
    for (const run of [() => store.queryEvents(q as never), () => store.countEvents(q as never), () => [...store.iterateEvents(q as never)]]) {
      assert.throws(run, (err: unknown) => err instanceof ValidationError && message.test((err as Error).message));
    }
  });
}

test('a page larger than 10,000 is refused by queryEvents but a limit of any size caps iterate and export', () => {
  assert.throws(() => store.queryEvents({ tenantId: 'a', limit: 10_001 }), /limit must be an integer from 1 to 10,000/);
  assert.deepEqual([...store.iterateEvents({ tenantId: 'a', limit: 20_000 })], []);
});

test('an option set to undefined counts as absent', () => {
  store.insertEvent(good({ id: 'undef-1', tenantId: 'u1' }));
  const r = store.queryEvents({ tenantId: 'u1', actorId: undefined, limit: undefined, cursor: undefined, order: undefined });
  assert.deepEqual(r.events.map((e) => e.id), ['undef-1']);
});

test('a cursor from another query is refused', () => {
  for (let i = 0; i < 3; i++) store.insertEvent(good({ tenantId: 'c1', id: `c-${i}`, timestamp: 1000 + i }));
  const page = store.queryEvents({ tenantId: 'c1', limit: 1 });
  assert.ok(page.nextCursor);
  assert.throws(() => store.queryEvents({ tenantId: 'c1', limit: 1, order: 'asc', cursor: page.nextCursor }), /belongs to a query with other filters/);
});

test('events read back exactly as written: nothing added or dropped, absent stays absent, numbers stay numbers', () => {
  const input = {
    id: 'exact-1',
    tenantId: 'exact',
    timestamp: '2026-03-04T05:06:07.089Z',
    actor: { id: 'bob', type: 'service', name: null, extra: { depth: [1, 2.5, -3e-7] } },
    action: 'record.export',
    resource: { type: 'patient', id: 'p-9', name: 'Ada' },
    outcome: 'denied' as const,
    severity: 'high' as const,
    correlationId: 'corr',
    sourceIp: '192.0.2.1',
    details: { n: 1e21, small: 5e-324, big: 2 ** 53, s: 'é\u2028"\\', nested: { b: true, z: null, a: [] }, '': 0 },
  };
  store.insertEvent(input as never);
  const [got] = store.queryEvents({ tenantId: 'exact' }).events;
  assert.deepEqual(got, {
    ...input,
    timestamp: Date.parse(input.timestamp),
    category: 'record',
    schemaVersion: 1,
  });
  assert.equal('sessionId' in got!, false);
  assert.equal('userAgent' in got!, false);
  assert.equal(typeof got!.details!.n, 'number');
});

test('createAuditEvent assigns id, timestamp and schemaVersion and validates like insert', () => {
  const e = createAuditEvent({ tenantId: 't', actor: { id: 'a' }, action: 'user.login', resource: { type: 'session', id: 's' } });
  assert.match(e.id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  assert.ok(Math.abs(e.timestamp - Date.now()) < 60_000);
  assert.equal(e.schemaVersion, 1);
  assert.equal(e.severity, 'info');
  assert.equal(e.outcome, 'unknown');
  assert.equal(e.category, 'user');
  assert.throws(() => createAuditEvent({ tenantId: 't', actor: { id: 'a' }, action: 'bad action', resource: { type: 's', id: 's' } }), ValidationError);
  // Inserting it twice is one event and one duplicate.
  const first = store.insertEvents([e as never, e as never]);
  assert.deepEqual([first.inserted, first.duplicates], [1, 1]);
  const again = store.insertEvents([e as never]);
  assert.deepEqual([again.inserted, again.duplicates, again.ids], [0, 1, [e.id]]);
  assert.deepEqual(store.queryEvents({ tenantId: 't' }).events, [e]);
});

test('a ULID id re-sent with another timestamp is still a duplicate', () => {
  const e = createAuditEvent({ tenantId: 'dup', actor: { id: 'a' }, action: 'x.y', resource: { type: 'r', id: 'r' } });
  assert.equal(store.insertEvents([e as never]).inserted, 1);
  assert.equal(store.insertEvents([{ ...e, timestamp: e.timestamp + 5 } as never]).duplicates, 1);
  assert.equal(store.countEvents({ tenantId: 'dup' }), 1);
});

test('strings are written as UTF-8 of exactly what JSON.stringify gives (escapes, control characters, lone and paired surrogates)', () => {
  for (const s of ['', 'plain', 'a"b', 'a\\b', '\u0000', '\u001f\u007f', '\u2028', '\ud800', 'x\udfff', '\u{1F600}', 'é文']) assert.equal(jsonString(s), JSON.stringify(s));
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => jsonString(s) === JSON.stringify(s)), { numRuns: 5000 });
  fc.assert(fc.property(fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }), (s) => jsonString(s) === JSON.stringify(s)), { numRuns: 5000 });
});

test('canonical JSON sorts members by UTF-16 code units and serialises like JSON.stringify', () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], '\u00e9': 1, A: { d: 1e30, c: -0.5 } }), '{"A":{"c":-0.5,"d":1e+30},"a":[true,null,"x"],"b":1,"é":1}');
  assert.equal(canonicalJson({ '\ufb33': 2, '\ud83d\ude00': 1 }), '{"\ud83d\ude00":1,"\ufb33":2}');
  assert.throws(() => canonicalJson({ a: Infinity }), /value\.a is Infinity/);
  for (const n of [0, -0, 7, -7, 9007199254740991, 9007199254740992, 1e21, 123.5e-9, -1e-7]) assert.equal(canonicalJson(n), JSON.stringify(n));
  fc.assert(fc.property(fc.oneof(fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true })), (n) => canonicalJson(n) === JSON.stringify(n)), { numRuns: 5000 });
});

test('canonical JSON orders objects of few and of many members alike', () => {
  for (const n of [2, 3, 7, 16, 17, 40]) {
    const names = Array.from({ length: n }, (_, i) => `${String.fromCharCode(0x7a - (i % 26))}${i % 3 === 0 ? '\u00e9' : 'K'}${i}`);
    const o: Record<string, number> = {};
    for (const [i, name] of names.entries()) o[name] = i;
    const sorted = [...names].sort();
    assert.equal(canonicalJson(o), '{' + sorted.map((k) => `${JSON.stringify(k)}:${o[k]}`).join(',') + '}', `${n} members`);
  }
});

test('unknown store options and bad audit options are refused at open', async () => {
  await assert.rejects(RedbAuditStore.open({ baseDir: path.join(dir, 'x'), maxBatch: 0 }), /option maxBatch must be an integer from 1/);
  await assert.rejects(RedbAuditStore.open({ baseDir: path.join(dir, 'x'), colour: 1 } as never), /unknown option colour/);
  await assert.rejects(RedbAuditStore.open({ baseDir: path.join(dir, 'x'), retention: [{ tenantId: 't', maxAgeDays: -1 }] }), /retention\[0\]\.maxAgeDays must be a positive number/);
});
