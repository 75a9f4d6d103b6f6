import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditEvents } from '../../fixtures/audit-events.js';
import { Database, type CompressionKind } from '../../src/index.js';
import { dirBytes, tmpDir } from '../support/tmp.js';

/** Bytes on disk after storing the fixture's 100k audit events with the given compression. */
function footprint(t: Parameters<typeof tmpDir>[0], compression: CompressionKind, events: Buffer[]): number {
  const dir = tmpDir(t, compression);
  const db = Database.open(dir, { compression, checkpointIntervalMs: 0 });
  for (let b = 0; b < events.length; b += 10_000) {
    db.write((tx) => {
      for (let i = b; i < b + 10_000; i++) tx.table('events').put(Buffer.from(`e/${String(i).padStart(8, '0')}`), events[i]!);
    });
  }
  db.compact();
  db.close();
  return dirBytes(dir);
}

test('100k realistic audit events take at least 3x less disk with zstd than with no compression', (t) => {
  const events = [...auditEvents(100_000)].map((e) => Buffer.from(JSON.stringify(e)));
  const none = footprint(t, 'none', events);
  const zstd = footprint(t, 'zstd', events);
  const lz4 = footprint(t, 'lz4', events);
  const ratio = none / zstd;
  t.diagnostic(`none ${none} bytes, zstd ${zstd} (${ratio.toFixed(2)}x), lz4 ${lz4} (${(none / lz4).toFixed(2)}x)`);
  assert.ok(ratio >= 3, `zstd saves only ${ratio.toFixed(2)}x`);
  assert.ok(lz4 < none);
});

test('a fresh store sizes its leaves by how well its first large commits compress, before any checkpoint', (t) => {
  const events = [...auditEvents(20_000)].map((e) => Buffer.from(JSON.stringify(e)));
  const ratioAfterLoad = (compression: CompressionKind): { ratio: number; checkpoints: number } => {
    const db = Database.open(tmpDir(t, compression), { compression, checkpointIntervalMs: 0 });
    for (let b = 0; b < events.length; b += 2_000) {
      db.write((tx) => {
        for (let i = b; i < b + 2_000; i++) tx.put(Buffer.from(`e/${String(i).padStart(8, '0')}`), events[i]!);
      });
    }
    const { compressionRatio, checkpoints } = db.stats();
    db.close();
    return { ratio: compressionRatio, checkpoints };
  };
  const zstd = ratioAfterLoad('zstd');
  assert.equal(zstd.checkpoints, 0, 'the load was meant to fit before the first checkpoint');
  // JSON audit events compress several times over; leaves may then grow to several pages raw.
  assert.ok(zstd.ratio > 2, `ratio ${zstd.ratio}`);
  assert.equal(ratioAfterLoad('none').ratio, 1);
});
