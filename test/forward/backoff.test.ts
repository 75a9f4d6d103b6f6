import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../src/errors.js';
import { Backoff, isTransient } from '../../src/forward/backoff.js';

test('backoff delays grow exponentially up to the cap, with jitter, and reset after a success', () => {
  const top = new Backoff(100, 1000, () => 0.999999);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => top.next()), [99, 199, 399, 799, 999, 999]);
  assert.equal(top.failures, 6);
  top.reset();
  assert.equal(top.failures, 0);
  assert.equal(top.next(), 99);
  assert.equal(new Backoff(100, 1000, () => 0).next(), 0);
});

test('only failures a retry can cure are transient', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006', '40001', '40P01', '53300']) assert.equal(isTransient({ code }), true, code);
  assert.equal(isTransient(new Error('Connection terminated unexpectedly')), true);
  for (const code of ['22P02', '42P01', '42501', '23505']) assert.equal(isTransient({ code }), false, code);
  assert.equal(isTransient(new ValidationError('bad')), false);
  assert.equal(isTransient(new Error('something else')), false);
});
