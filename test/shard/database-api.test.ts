import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ClosedError,
  Database,
  ErrorCode,
  LockedError,
  MAX_KEY_SIZE,
  RedbError,
  TransactionClosedError,
  ValidationError,
} from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';

test('a committed put is readable at once and after reopening', (t) => {
  const dir = tmpDir(t);
  let db = Database.open(dir);
  db.write((tx) => tx.put(enc('alpha'), enc('one')));
  assert.equal(db.get(enc('alpha'))?.toString(), 'one');
  db.close();
  db = Database.open(dir);
  assert.equal(db.get(enc('alpha'))?.toString(), 'one');
  assert.equal(db.count(), 1);
  db.close();
});

test('write returns the callback result and an empty transaction commits nothing', (t) => {
  const db = Database.open(tmpDir(t));
  assert.equal(db.write(() => 42), 42);
  assert.equal(db.stats().txn, 0);
  db.close();
});

test('a transaction that throws writes nothing', (t) => {
  const db = Database.open(tmpDir(t));
  db.write((tx) => tx.put(enc('k'), enc('before')));
  assert.throws(
    () =>
      db.write((tx) => {
        tx.put(enc('k'), enc('after'));
        tx.put(enc('other'), enc('x'));
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(db.get(enc('k'))?.toString(), 'before');
  assert.equal(db.get(enc('other')), undefined);
  db.close();
});

test('a write callback that returns a promise is refused and writes nothing', (t) => {
  const db = Database.open(tmpDir(t));
  assert.throws(
    () =>
      db.write(async (tx) => {
        tx.put(enc('k'), enc('v'));
      }),
    (err: unknown) => err instanceof ValidationError && /synchronous/.test(err.message),
  );
  assert.equal(db.get(enc('k')), undefined);
  db.close();
});

test('a transaction used after its callback ends throws TransactionClosedError', (t) => {
  const db = Database.open(tmpDir(t));
  let leaked: { put(k: Uint8Array, v: Uint8Array): void } | null = null;
  db.write((tx) => {
    leaked = tx;
  });
  assert.throws(() => leaked!.put(enc('k'), enc('v')), TransactionClosedError);
  db.close();
});

test('a write inside a write is refused', (t) => {
  const db = Database.open(tmpDir(t));
  assert.throws(() => db.write(() => db.write(() => 1)), (err: unknown) => err instanceof ValidationError && /inside another write/.test(err.message));
  db.close();
});

test('using a closed database or its snapshots throws ClosedError', (t) => {
  const db = Database.open(tmpDir(t));
  db.write((tx) => tx.put(enc('k'), enc('v')));
  const snap = db.read();
  db.close();
  assert.throws(() => db.get(enc('k')), ClosedError);
  assert.throws(() => db.write((tx) => tx.put(enc('k'), enc('v'))), ClosedError);
  assert.throws(() => snap.get(enc('k')), ClosedError);
  db.close();
});

test('bad keys and values are refused with ValidationError, and nothing is written', (t) => {
  const db = Database.open(tmpDir(t));
  const bad: [unknown, unknown, RegExp][] = [
    ['string', enc('v'), /key must be a Uint8Array/],
    [new Uint8Array(0), enc('v'), /key must be 1 to 2048 bytes/],
    [new Uint8Array(MAX_KEY_SIZE + 1), enc('v'), /key must be 1 to 2048 bytes/],
    [enc('k'), 'value', /value must be a Uint8Array/],
    [enc('k'), null, /value must be a Uint8Array/],
  ];
  for (const [k, v, msg] of bad) {
    assert.throws(
      () => db.write((tx) => tx.put(k as Uint8Array, v as Uint8Array)),
      (err: unknown) => err instanceof ValidationError && err.code === ErrorCode.Validation && msg.test(err.message),
    );
  }
  assert.equal(db.count(), 0);
  assert.throws(() => db.get('k' as unknown as Uint8Array), ValidationError);
  assert.throws(() => db.table('__internal'), /reserved/);
  assert.throws(() => [...db.range({ gte: enc('a'), gt: enc('b') })], /at most one of gte and gt/);
  assert.throws(() => [...db.range({ limit: -1 })], /limit/);
  db.close();
});

test('bad options are refused with ValidationError naming the option and its range', (t) => {
  const dir = tmpDir(t);
  assert.throws(() => Database.open(dir, { pageSize: 100 }), /option pageSize must be an integer from 512 to 65536/);
  assert.throws(() => Database.open(dir, { durability: 'sometimes' as never }), /option durability must be 'immediate', 'group' or 'none'/);
  assert.throws(() => Database.open(dir, { walSegmentBytes: 10 }), /walSegmentBytes/);
  assert.throws(() => Database.open(dir, { nope: 1 } as never), /unknown option nope/);
  assert.throws(() => Database.open(''), ValidationError);
});

test('every error is a RedbError with a stable code', (t) => {
  const db = Database.open(tmpDir(t));
  try {
    db.write((tx) => tx.put(new Uint8Array(0), enc('v')));
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(err instanceof RedbError);
    assert.equal((err as RedbError).code, 'REDB_VALIDATION');
  }
  db.close();
});

test('named tables are independent, listed, cleared and dropped atomically with other writes', (t) => {
  const dir = tmpDir(t);
  let db = Database.open(dir);
  db.write((tx) => {
    tx.table('events').put(enc('e1'), enc('a'));
    tx.table('events').put(enc('e2'), enc('b'));
    tx.table('index').put(enc('i1'), enc('e1'));
    tx.put(enc('e1'), enc('default table'));
  });
  assert.deepEqual(db.tableNames(), ['default', 'events', 'index']);
  assert.equal(db.table('events').count(), 2);
  assert.equal(db.table('events').get(enc('e1'))?.toString(), 'a');
  assert.equal(db.get(enc('e1'))?.toString(), 'default table');
  assert.equal(db.table('missing').get(enc('e1')), undefined);
  db.table('events').write((t2) => t2.clear());
  assert.equal(db.table('events').count(), 0);
  db.write((tx) => assert.equal(tx.dropTable('index'), true));
  db.close();
  db = Database.open(dir);
  assert.deepEqual(db.tableNames(), ['default', 'events']);
  assert.equal(db.table('index').count(), 0);
  db.close();
});

test('a transaction reads its own writes, and a range over it refuses to continue after a write', (t) => {
  const db = Database.open(tmpDir(t));
  db.write((tx) => {
    tx.put(enc('a'), enc('1'));
    assert.equal(tx.get(enc('a'))?.toString(), '1');
    assert.equal(tx.count(), 1);
    tx.put(enc('b'), enc('2'));
    const it = tx.range();
    assert.equal(it.next().value?.key.toString(), 'a');
    tx.put(enc('c'), enc('3'));
    assert.throws(() => it.next(), /changed while a range over it was being read/);
  });
  db.close();
});

test('range honours every bound, direction and limit', (t) => {
  const db = Database.open(tmpDir(t), { pageSize: 512 });
  const keys = Array.from({ length: 500 }, (_, i) => `k${String(i * 2).padStart(4, '0')}`);
  db.write((tx) => keys.forEach((k) => tx.put(enc(k), enc(`v${k}`))));
  const sorted = [...keys].sort();
  const probe = (o: Record<string, unknown>): string[] => [...db.range(o as never)].map((e) => e.key.toString());
  const cases: [Record<string, unknown>, (k: string) => boolean][] = [
    [{ gte: enc('k0100') }, (k) => k >= 'k0100'],
    [{ gt: enc('k0100') }, (k) => k > 'k0100'],
    [{ gt: enc('k0101') }, (k) => k > 'k0101'],
    [{ lte: enc('k0100') }, (k) => k <= 'k0100'],
    [{ lt: enc('k0100') }, (k) => k < 'k0100'],
    [{ gte: enc('k0100'), lt: enc('k0200') }, (k) => k >= 'k0100' && k < 'k0200'],
    [{ gt: enc('k0999'), lte: enc('k0999') }, () => false],
    [{ gte: enc('z') }, () => false],
  ];
  for (const [opts, keep] of cases) {
    const want = sorted.filter(keep);
    assert.deepEqual(probe(opts), want, JSON.stringify(opts));
    assert.deepEqual(probe({ ...opts, reverse: true }), [...want].reverse(), `reverse ${JSON.stringify(opts)}`);
    assert.deepEqual(probe({ ...opts, limit: 3 }), want.slice(0, 3));
    assert.deepEqual(probe({ ...opts, reverse: true, limit: 3 }), [...want].reverse().slice(0, 3));
  }
  const first = [...db.range({ limit: 1 })][0]!;
  assert.equal(first.value.toString(), `v${sorted[0]}`);
  db.close();
});

test('returned keys and values are copies the caller may change', (t) => {
  const db = Database.open(tmpDir(t));
  const key = enc('key');
  const value = enc('value');
  db.write((tx) => tx.put(key, value));
  key[0] = 0x5a;
  value[0] = 0x5a;
  const got = db.get(enc('key'))!;
  assert.equal(got.toString(), 'value');
  got[0] = 0x5a;
  assert.equal(db.get(enc('key'))!.toString(), 'value');
  db.close();
});

test('empty values read back empty from the memtable and the tree, and keys beside them stay copies', (t) => {
  const db = Database.open(tmpDir(t));
  db.write((tx) => {
    for (let i = 0; i < 50; i++) tx.put(enc(`k${i}`), new Uint8Array(0));
    tx.put(enc('v'), enc('value'));
  });
  const check = (): void => {
    const entries = [...db.range()];
    assert.equal(entries.length, 51);
    for (const e of entries) assert.equal(e.value.toString(), e.key.toString() === 'v' ? 'value' : '');
    assert.equal(db.get(enc('k7'))!.length, 0);
    // Changing a returned key or value changes nothing stored.
    entries[0]!.key[0] = 0x5a;
    entries[50]!.value[0] = 0x5a;
    assert.equal([...db.range()][0]!.key.toString(), 'k0');
    assert.equal(db.get(enc('v'))!.toString(), 'value');
  };
  check(); // from the memtable
  db.checkpoint();
  check(); // from the tree
  db.close();
});

test('a 64 MiB value survives the WAL, a checkpoint, a compaction and a reopen', (t) => {
  const dir = tmpDir(t);
  const big = Buffer.alloc(64 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
  let db = Database.open(dir, { checkpointIntervalMs: 0 });
  db.write((tx) => tx.put(enc('big'), big));
  assert.ok(db.get(enc('big'))!.equals(big));
  db.close();
  db = Database.open(dir);
  assert.ok(db.get(enc('big'))!.equals(big));
  db.write((tx) => tx.put(enc('small'), enc('x')));
  db.compact();
  assert.ok(db.get(enc('big'))!.equals(big));
  assert.ok(db.verify().ok);
  db.close();
});

test('concurrent writeAsync calls all resolve, in order, and are visible once resolved', async (t) => {
  const db = Database.open(tmpDir(t));
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => db.writeAsync((tx) => (tx.put(enc(`k${i}`), enc(`v${i}`)), i))));
  assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i));
  for (let i = 0; i < 50; i++) assert.equal(db.get(enc(`k${i}`))?.toString(), `v${i}`);
  assert.equal(db.stats().durableTxn, 50);
  db.close();
});

test('a second open of the same directory in this process gets a LockedError saying it is already open here', (t) => {
  const dir = tmpDir(t);
  const db = Database.open(dir);
  assert.throws(
    () => Database.open(dir),
    (err: unknown) =>
      err instanceof LockedError &&
      err.code === ErrorCode.Locked &&
      err.reason === 'same-process' &&
      err.message.includes('already open in this process') &&
      !err.message.includes('locked by process'),
  );
  // The failed second open must not have disturbed the first one's lock.
  db.write((tx) => tx.put(enc('after'), enc('1')));
  db.close();
  Database.open(dir).close();
});

test('range options with an unknown name, two bounds on one side or a bound that is not a key are refused', (t) => {
  const db = Database.open(tmpDir(t), { checkpointIntervalMs: 0, durability: 'none' });
  t.after(() => db.close());
  db.write((tx) => tx.put(enc('a'), enc('1')));
  const bad: [unknown, RegExp][] = [
    [{ from: enc('a') }, /unknown range option from/],
    [{ gte: enc('a'), gt: enc('a') }, /at most one of gte and gt/],
    [{ lte: enc('a'), lt: enc('a') }, /at most one of lte and lt/],
    [{ gte: 'a' }, /range bound gte must be a Uint8Array/],
    [{ gt: new Uint8Array(0) }, /range bound gt must be 1 to/],
    [{ lte: 5 }, /range bound lte must be a Uint8Array/],
    [{ lt: [1] }, /range bound lt must be a Uint8Array/],
    [{ reverse: 1 }, /reverse must be a boolean/],
    [{ limit: -1 }, /limit must be a non-negative integer/],
  ];
  for (const [opts, msg] of bad) assert.throws(() => [...db.range(opts as never)], (e: Error) => e instanceof ValidationError && msg.test(e.message), JSON.stringify(opts));
  // Inherited properties are not options.
  const inherited = Object.create({ from: enc('a') }) as Record<string, unknown>;
  inherited.gte = enc('a');
  assert.deepEqual([...db.range(inherited as never)].map((e) => e.key.toString()), ['a']);
});
