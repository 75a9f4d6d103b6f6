import assert from 'node:assert/strict';
import fs, { createWriteStream, readFileSync } from 'node:fs';
import os from 'node:os';
import path, { join } from 'node:path';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { RedbAuditStore } from '../../../src/audit/audit-store.js';
import { CSV_COLUMNS } from '../../../src/audit/export/csv.js';
import type { AuditEvent, AuditEventInput, AuditQuery, ExportFormat } from '../../../src/audit/types.js';
import { IoError, ValidationError } from '../../../src/errors.js';
import { tmpDir } from '../../support/tmp.js';

const BASE = Date.UTC(2026, 0, 1);
const ACTIONS = ['auth.login', 'auth.logout', 'record.read', 'record.update', 'authz.check'];

function inputs(): AuditEventInput[] {
  const out: AuditEventInput[] = [];
  for (let i = 0; i < 400; i++) {
    out.push({
      tenantId: i % 4 === 3 ? 'globex' : 'acme',
      timestamp: BASE + i * 60_000,
      actor: { id: `user-${i % 5}`, type: 'user' },
      action: ACTIONS[i % ACTIONS.length]!,
      resource: { type: 'record', id: `r-${i % 13}`, name: i % 7 === 0 ? 'a, "quoted"\nname' : 'plain' },
      outcome: i % 6 === 3 ? 'failure' : 'success',
      severity: i % 10 === 0 ? 'high' : 'info',
      details: { i, note: i % 3 === 0 ? 'pipes | and = and \\ backslash' : 'ok' },
    });
  }
  return out;
}

async function openStore(t: TestContext): Promise<{ store: RedbAuditStore; events: AuditEvent[] }> {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-export-'));
  const store = await RedbAuditStore.open({ baseDir, durability: 'immediate' });
  // One hook, closing before removing: node:test runs after hooks in registration order, and close()
  // still writes (the integrity log's final checkpoint), so it needs the directory and its lock.
  t.after(() => {
    store.close();
    fs.rmSync(baseDir, { recursive: true, force: true });
  });
  store.insertEvents(inputs());
  const events = [...store.iterateEvents({ allTenants: true, order: 'asc' })];
  assert.equal(events.length, 400);
  return { store, events };
}

/** The oracle: what a query selects, computed from the inserted events directly, newest first. */
function expected(events: AuditEvent[], q: AuditQuery): string[] {
  const prefix = q.action?.endsWith('.*') ? q.action.slice(0, -1) : undefined;
  const picked = events.filter(
    (e) =>
      (q.allTenants || e.tenantId === q.tenantId) &&
      (q.actorId === undefined || e.actor.id === q.actorId) &&
      (q.action === undefined || (prefix ? e.action.startsWith(prefix) : e.action === q.action)) &&
      (q.outcome === undefined || e.outcome === q.outcome) &&
      (q.from === undefined || e.timestamp >= Number(q.from)) &&
      (q.to === undefined || e.timestamp < Number(q.to)),
  );
  picked.sort((a, b) => b.timestamp - a.timestamp || (a.id < b.id ? 1 : -1));
  return picked.slice(0, q.limit ?? Infinity).map((e) => e.id);
}

/** The event ids each format's output carries, in output order. */
function idsOf(format: ExportFormat, text: string): string[] {
  switch (format) {
    case 'json':
      return (JSON.parse(text) as AuditEvent[]).map((e) => e.id);
    case 'ndjson':
      return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as AuditEvent).id);
    case 'ocsf':
      return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { metadata: { uid: string } }).metadata.uid);
    case 'cef':
      return text.split('\n').filter(Boolean).map((l) => /(?:^|\|| )externalId=([0-9A-Z]+)/.exec(l)![1]!);
    case 'csv': {
      // Ids never need quoting, so each record's id is the text before the first comma of a record
      // start; records start after a CRLF that is not inside quotes.
      const ids: string[] = [];
      let quoted = false;
      let start = 0;
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '"') quoted = !quoted;
        else if (!quoted && text[i] === '\r' && text[i + 1] === '\n') {
          ids.push(text.slice(start, text.indexOf(',', start)));
          start = i + 2;
        }
      }
      assert.equal(ids.shift(), CSV_COLUMNS[0]);
      return ids;
    }
  }
}

const QUERIES: AuditQuery[] = [
  { tenantId: 'acme' },
  { tenantId: 'acme', limit: 7 },
  { tenantId: 'acme', actorId: 'user-2' },
  { tenantId: 'acme', action: 'auth.*' },
  { tenantId: 'globex', outcome: 'failure', limit: 5 },
  { tenantId: 'acme', from: BASE + 60 * 60_000, to: BASE + 180 * 60_000 },
  { allTenants: true, action: 'record.read', limit: 150 },
];

test('every format of exportEvents honours the query filters, and its limit only when given', async (t) => {
  const { store, events } = await openStore(t);
  for (const q of QUERIES) {
    const want = expected(events, q);
    assert.ok(want.length > 0);
    for (const format of ['json', 'ndjson', 'csv', 'ocsf', 'cef'] as const) {
      assert.deepEqual(idsOf(format, store.exportEvents(q, format)), want, `${format} ${JSON.stringify(q)}`);
    }
  }
  // No limit means everything, well past a query page (100).
  assert.equal(idsOf('ndjson', store.exportEvents({ tenantId: 'acme' }, 'ndjson')).length, 300);
});

test('ndjson export is the stored canonical bytes, one event per line', async (t) => {
  const { store } = await openStore(t);
  const lines = store.exportEvents({ tenantId: 'globex', order: 'asc' }, 'ndjson').split('\n');
  assert.equal(lines.pop(), '');
  const events = [...store.iterateEvents({ tenantId: 'globex', order: 'asc' })];
  assert.equal(lines.length, events.length);
  lines.forEach((line, i) => {
    assert.deepEqual(JSON.parse(line), events[i]);
    // Canonical: members sorted, no whitespace.
    const keys = Object.keys(JSON.parse(line) as object);
    assert.deepEqual(keys, [...keys].sort());
    assert.doesNotMatch(line, /": |, "/);
  });
});

test('exportEventsTo streams the same bytes as exportEvents, to a file and to a slow destination', async (t) => {
  const { store } = await openStore(t);
  const dir = tmpDir(t, 'export-out');
  for (const format of ['csv', 'cef', 'ndjson'] as const) {
    const path = join(dir, `out.${format}`);
    const file = createWriteStream(path);
    const report = await store.exportEventsTo({ tenantId: 'acme', action: 'record.*' }, format, file);
    await new Promise<void>((resolve, reject) => file.end((e?: Error | null) => (e ? reject(e) : resolve())));
    const text = store.exportEvents({ tenantId: 'acme', action: 'record.*' }, format);
    assert.equal(readFileSync(path, 'utf8'), text);
    assert.equal(report.bytes, Buffer.byteLength(text));
    assert.equal(report.events, 120);
  }
  const chunks: Buffer[] = [];
  let writesWhileFull = 0;
  const slow = new Writable({
    highWaterMark: 8,
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      setImmediate(done);
    },
  });
  const write = slow.write.bind(slow);
  slow.write = ((...args: Parameters<typeof slow.write>) => {
    if (slow.writableNeedDrain) writesWhileFull++;
    return write(...args);
  }) as typeof slow.write;
  await store.exportEventsTo({ allTenants: true }, 'ocsf', slow);
  assert.equal(writesWhileFull, 0);
  assert.equal(Buffer.concat(chunks).toString('utf8'), store.exportEvents({ allTenants: true }, 'ocsf'));
});

test('a failing destination rejects exportEventsTo with an IoError; bad formats are ValidationErrors', async (t) => {
  const { store } = await openStore(t);
  const failing = new Writable({
    highWaterMark: 16,
    write(_chunk, _enc, done) {
      done(new Error('ENOSPC: simulated'));
    },
  });
  await assert.rejects(store.exportEventsTo({ allTenants: true }, 'json', failing), IoError);
  assert.throws(() => store.exportEvents({ tenantId: 'acme' }, 'xml' as ExportFormat), ValidationError);
  await assert.rejects(store.exportEventsTo({ tenantId: 'acme' }, 'yaml' as ExportFormat, new Writable({ write: (_c, _e, d) => d() })), ValidationError);
});
