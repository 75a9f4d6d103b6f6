// Key encodings of the audit tables (src/audit/keys.ts): an event's id key depends on its
// timestamp (a ULID of that very time keeps only its random bytes), yet keys must sort exactly as
// (timestamp, full id bytes) and give back the id and its ts-independent bytes unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { eventKey, idBytes, idBytesOfKey, idFromKey, idKeyOf, indexKey, isSelfKeyed, RESOURCE_WEEK_MS, resourcePrefix, resourceValue, resourceWeek, TAG_ULID_SELF, tsText, valuePrefix } from '../../src/audit/keys.js';
import { MAX_ULID_TIME, ulidToString } from '../../src/audit/ulid.js';

const ULID_TIME_MAX = MAX_ULID_TIME;

/** A ULID string of `time` with the given 10 random bytes. */
function ulidOf(time: number, random: Uint8Array): string {
  const b = new Uint8Array(16);
  const hi = Math.floor(time / 2 ** 32);
  b[0] = (hi >>> 8) & 255;
  b[1] = hi & 255;
  const lo = time >>> 0;
  b[2] = lo >>> 24;
  b[3] = (lo >>> 16) & 255;
  b[4] = (lo >>> 8) & 255;
  b[5] = lo & 255;
  b.set(random, 6);
  return ulidToString(b, 0);
}

// Timestamps cluster so that ties, equal ULID times and neighbouring times all occur; a few are
// beyond any ULID time (up to 2^53 - 1), where no ULID can be self-keyed.
const tsArb = fc.oneof(
  fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_004 }),
  fc.constantFrom(0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, ULID_TIME_MAX - 1, ULID_TIME_MAX, ULID_TIME_MAX + 1, Number.MAX_SAFE_INTEGER),
);
const randomArb = fc.oneof(fc.uint8Array({ minLength: 10, maxLength: 10 }), fc.constantFrom(new Uint8Array(10), new Uint8Array(10).fill(255)));
/** An (ts, id) pair: the id a ULID of ts, of a time near it or of any time, or the caller's own text. */
const eventArb = tsArb.chain((ts) =>
  fc.record({
    ts: fc.constant(ts),
    id: fc.oneof(
      fc.tuple(fc.integer({ min: -2, max: 2 }), randomArb).map(([d, r]) => ulidOf(Math.min(ULID_TIME_MAX, Math.max(0, ts + d)), r)),
      fc.tuple(fc.constantFrom(0, 1_700_000_000_002, ULID_TIME_MAX), randomArb).map(([t, r]) => ulidOf(t, r)),
      fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\u0000')),
      fc.constantFrom('01ARZ3NDEKTSV4RRFFQ69G5FAV', '7ZZZZZZZZZZZZZZZZZZZZZZZZZ', '0000000000000000000000000Z', 'zz'),
    ),
  }),
);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** The order the store promises: timestamp, then the id's full (ts-independent) bytes. */
function wantOrder(a: { ts: number; id: string }, b: { ts: number; id: string }): number {
  return a.ts !== b.ts ? Math.sign(a.ts - b.ts) : Math.sign(compareBytes(idBytes(a.id), idBytes(b.id)));
}

test('events and index keys sort exactly as (timestamp, full id bytes), whatever the id and its time', () => {
  const prefix = valuePrefix(3, 2, 'record.read', true);
  fc.assert(
    fc.property(eventArb, eventArb, (a, b) => {
      const want = wantOrder(a, b);
      const ka = idKeyOf(idBytes(a.id), a.ts);
      const kb = idKeyOf(idBytes(b.id), b.ts);
      assert.equal(Math.sign(compareBytes(eventKey(3, a.ts, ka), eventKey(3, b.ts, kb))), want);
      assert.equal(Math.sign(compareBytes(indexKey(prefix, a.ts, ka), indexKey(prefix, b.ts, kb))), want);
      // Equal keys only for the same event.
      if (want === 0) assert.equal(a.id, b.id);
    }),
    { numRuns: 20_000 },
  );
});

test('an id key gives back its id and its ts-independent bytes', () => {
  fc.assert(
    fc.property(eventArb, ({ ts, id }) => {
      const bytes = idBytes(id);
      const key = idKeyOf(bytes, ts);
      assert.equal(idFromKey(key, 0, key.length, ts), id);
      assert.deepEqual(idBytesOfKey(key, 0, key.length, ts), bytes);
      // Read back from inside a full events key too (offsets, not a fresh buffer).
      const ek = eventKey(40000, ts, key);
      assert.equal(idFromKey(ek, 4 + 8, ek.length, ts), id);
    }),
    { numRuns: 5_000 },
  );
});

test('a ULID keyed at its own time keeps only its 10 random bytes; any other id keeps all of its bytes', () => {
  const self = ulidOf(1_700_000_000_000, new Uint8Array(10).fill(7));
  const key = idKeyOf(idBytes(self), 1_700_000_000_000);
  assert.equal(key.length, 11);
  assert.equal(key[0], TAG_ULID_SELF);
  assert.ok(isSelfKeyed(key));
  for (const ts of [1_699_999_999_999, 1_700_000_000_001]) {
    const other = idKeyOf(idBytes(self), ts);
    assert.equal(other.length, 17);
    assert.ok(!isSelfKeyed(other));
  }
  const text = idKeyOf(idBytes('order-7'), 5);
  assert.equal(text.length, 1 + 'order-7'.length);
  assert.ok(!isSelfKeyed(text));
});

test('the events key example of docs/audit.md is byte for byte what the store writes', () => {
  const id = '01K6HDG8D0N2J8QWQ8YMEGW79B';
  const ts = 1759373697440;
  assert.equal(eventKey(3, ts, idKeyOf(idBytes(id), ts)).toString('hex'), '000300000199a2d821a002a8a48bf2e8f51d0e1d2b');
  assert.equal(eventKey(3, ts + 1, idKeyOf(idBytes(id), ts + 1)).toString('hex'), '000300000199a2d821a1010199a2d821a0a8a48bf2e8f51d0e1d2b');
});

test('the resource index key example of docs/audit.md is byte for byte what the store writes', () => {
  const id = '01K6HDG8D0N2J8QWQ8YMEGW79B';
  const ts = 1759373697440;
  const prefix = resourcePrefix(3, resourceValue('doc', 'd1'), resourceWeek(ts));
  assert.equal(indexKey(prefix, ts, idKeyOf(idBytes(id), ts)).toString('hex'), '0003' + '03' + '00000b5d' + '646f63' + '00' + '6431' + '00' + '00000199a2d821a0' + '02a8a48bf2e8f51d0e1d2b');
  // The last millisecond of that week and the first of the next fall on either side of the bucket edge.
  const edge = (resourceWeek(ts) + 1) * RESOURCE_WEEK_MS;
  assert.equal(resourceWeek(edge - 1), 0xb5d);
  assert.equal(resourceWeek(edge), 0xb5e);
});

test('tsText writes every timestamp exactly as String does, across the 10^8 split and up to 2^53', () => {
  for (const ts of [0, 1, 9, 10, 99_999_999, 100_000_000, 100_000_001, 1_000_000_007, 1_790_838_984_219, 8.64e15, 2 ** 53 - 1]) assert.equal(tsText(ts), String(ts));
  fc.assert(fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.maxSafeNat()), (ts) => tsText(ts) === String(ts)), { numRuns: 10000 });
});
