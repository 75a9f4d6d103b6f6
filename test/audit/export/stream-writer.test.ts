import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { IoError, ValidationError } from '../../../src/errors.js';
import { exportToText } from '../../../src/audit/export/export-text.js';
import { exportToStream } from '../../../src/audit/export/stream-writer.js';
import type { ExportFormat } from '../../../src/audit/types.js';
import { awkwardEvents, sampleEvent, storedBytes } from './sample-events.js';

const FORMATS: ExportFormat[] = ['json', 'ndjson', 'csv', 'ocsf', 'cef'];

/** A destination that takes each chunk only after a delay and buffers at most `highWaterMark` bytes;
 * it records whether anyone wrote while it had asked them to wait. */
class SlowSink extends Writable {
  readonly chunks: Buffer[] = [];
  writesWhileFull = 0;
  constructor(highWaterMark: number) {
    super({ highWaterMark });
  }
  override write(chunk: any, ...rest: any[]): boolean {
    if (this.writableNeedDrain) this.writesWhileFull++;
    return super.write(chunk, ...rest);
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    setImmediate(done);
  }
}

function manyEvents(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(storedBytes(sampleEvent(i, { details: { seq: i, text: 'x'.repeat(i % 300) } })));
  return out;
}

test('a streamed export equals the in-memory export, in every format', async () => {
  const items = [...awkwardEvents().map(storedBytes), ...manyEvents(3000)];
  for (const format of FORMATS) {
    const sink = new SlowSink(64 * 1024);
    const report = await exportToStream(items, format, sink);
    const written = Buffer.concat(sink.chunks);
    assert.equal(written.toString('utf8'), exportToText(items, format), format);
    assert.deepEqual(report, { format, events: items.length, bytes: written.length });
    assert.ok(sink.writableFinished, 'the destination is ended');
  }
});

test('the writer waits for drain whenever the destination says it is full', async () => {
  const sink = new SlowSink(16);
  const items = manyEvents(2000);
  const report = await exportToStream(items, 'ndjson', sink);
  assert.equal(sink.writesWhileFull, 0);
  assert.ok(sink.chunks.length > 1, 'the output went out in several chunks');
  assert.equal(Buffer.concat(sink.chunks).toString('utf8'), exportToText(items, 'ndjson'));
  assert.equal(report.events, 2000);
});

test('an async source streams the same bytes', async () => {
  const items = manyEvents(500);
  async function* source() {
    for (const item of items) yield item;
  }
  const sink = new SlowSink(1024);
  await exportToStream(source(), 'csv', sink);
  assert.equal(Buffer.concat(sink.chunks).toString('utf8'), exportToText(items, 'csv'));
});

test('a destination that fails rejects the export with an IoError and stops reading the source', async () => {
  let taken = 0;
  function* source() {
    for (const item of manyEvents(20000)) {
      taken++;
      yield item;
    }
  }
  let calls = 0;
  const failing = new Writable({
    highWaterMark: 1024,
    write(_chunk, _enc, done) {
      if (++calls === 3) done(new Error('EIO: simulated write failure'));
      else setImmediate(done);
    },
  });
  await assert.rejects(exportToStream(source(), 'ndjson', failing), (error: unknown) => {
    assert.ok(error instanceof IoError);
    assert.match(error.message, /simulated write failure/);
    return true;
  });
  assert.ok(taken < 20000, `the export stopped early (took ${taken} events)`);
});

test('a destination closed mid-export rejects instead of hanging', async () => {
  const sink = new Writable({
    highWaterMark: 16,
    write(_chunk, _enc, done) {
      setImmediate(() => {
        done();
        this.destroy();
      });
    },
  });
  await assert.rejects(exportToStream(manyEvents(5000), 'json', sink), IoError);
});

test('a source that throws rejects and releases the destination', async () => {
  function* source() {
    yield storedBytes(sampleEvent(1));
    throw new Error('source broke');
  }
  const sink = new SlowSink(1024);
  await assert.rejects(exportToStream(source(), 'ndjson', sink), /source broke/);
  assert.ok(sink.destroyed);
});

test('end: false leaves the destination open after the export', async () => {
  const sink = new SlowSink(1024);
  await exportToStream(manyEvents(10), 'cef', sink, { end: false });
  assert.equal(sink.writableEnded, false);
  sink.end();
});

test('bad formats and destinations are ValidationErrors', async () => {
  await assert.rejects(exportToStream([], 'xml' as ExportFormat, new SlowSink(16)), (e: unknown) => e instanceof ValidationError && /json, ndjson, csv, ocsf, cef/.test(e.message));
  await assert.rejects(exportToStream([], 'json', {} as Writable), ValidationError);
  const ended = new SlowSink(16);
  ended.end();
  await assert.rejects(exportToStream([], 'json', ended), ValidationError);
  assert.throws(() => exportToText([], 'yaml' as ExportFormat), ValidationError);
});

test('a large export to a file runs in bounded memory and reads back whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'redb-export-'));
  try {
    const n = 150_000;
    const template = storedBytes(sampleEvent(0, { details: { pad: 'p'.repeat(400) } }));
    // Generated lazily: the source never holds more than one event.
    function* source() {
      for (let i = 0; i < n; i++) yield template;
    }
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    const path = join(dir, 'out.ndjson');
    const report = await exportToStream(source(), 'ndjson', createWriteStream(path, { highWaterMark: 16 * 1024 }));
    clearInterval(sampler);
    assert.equal(report.events, n);
    assert.equal(report.bytes, n * (template.length + 1));
    // The output is ~80 MB; the writer may hold a few chunks, not the output.
    assert.ok(peak - before < report.bytes / 4, `heap grew by ${peak - before} bytes for ${report.bytes} bytes of output`);
    let lines = 0;
    let size = 0;
    for await (const chunk of createReadStream(path)) {
      size += (chunk as Buffer).length;
      for (const byte of chunk as Buffer) if (byte === 10) lines++;
    }
    assert.equal(lines, n);
    assert.equal(size, report.bytes);
    assert.equal(readFileSync(path).subarray(0, template.length).toString(), Buffer.from(template).toString());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with end: false, a failure of the last write still rejects the export', async () => {
  let calls = 0;
  const failsLate = new Writable({
    highWaterMark: 1 << 20,
    write(_chunk, _enc, done) {
      calls++;
      setTimeout(() => done(new Error('EIO: the last write failed')), 5);
    },
  });
  await assert.rejects(exportToStream(manyEvents(10), 'ndjson', failsLate, { end: false }), (e: unknown) => e instanceof IoError && /last write failed/.test(e.message));
  assert.equal(calls, 1);
});
