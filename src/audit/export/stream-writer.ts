/**
 * The streaming export: formats items into fixed-size chunks and writes them to a Node.js Writable
 * with back-pressure, so an export of any size runs in bounded memory.
 *
 * Invariants: at most one chunk being filled plus the chunks one record overflowed is held here, and
 * once `write()` returns false nothing more is written until the destination emits 'drain'; an
 * 'error' or an early 'close' of the destination rejects the export with an IoError (the destination
 * error as its cause) instead of crashing the process or hanging; a chunk handed to `write()` is
 * never touched again. The promise settles only once the destination has processed every chunk
 * (its 'finish' when the export ends it, the last write's callback when it stays open), so a
 * failed write is never reported as success. The report counts events and bytes written.
 */
import type { Writable } from 'node:stream';
import { IoError, ValidationError } from '../../errors.js';
import type { ExportFormat, ExportReport } from '../types.js';
import { formatterFor, type ExportItem, type RecordSink } from './formats.js';

/** Bytes per write() call: large enough that the call costs little, small enough to bound memory. */
export const EXPORT_CHUNK_BYTES = 64 * 1024;

export interface StreamExportOptions {
  /**
   * End the destination once everything is written and wait for its 'finish' (default true), so the
   * promise resolves only when the destination has taken every byte. With false the destination is
   * left open, for example to append more, or for process.stdout.
   */
  end?: boolean;
}

const DESTINATION = 'the export destination';

function isAsyncIterable(x: unknown): x is AsyncIterable<ExportItem> {
  return typeof (x as AsyncIterable<ExportItem>)[Symbol.asyncIterator] === 'function';
}

/** Writes every item in `format` to `writable`, honouring back-pressure. */
export async function exportToStream(
  items: Iterable<ExportItem> | AsyncIterable<ExportItem>,
  format: ExportFormat,
  writable: Writable,
  options: StreamExportOptions = {},
): Promise<ExportReport> {
  const formatter = formatterFor(format);
  if (writable === null || typeof writable !== 'object' || typeof writable.write !== 'function' || typeof writable.on !== 'function') {
    throw new ValidationError('the export destination must be a Node.js Writable stream (for example fs.createWriteStream(path))');
  }
  if (writable.destroyed || writable.writableEnded) {
    throw new ValidationError('the export destination is already ended or destroyed; pass a stream that is still open');
  }
  const end = options.end ?? true;

  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let finished = false;
  const onError = (error: unknown): void => {
    failure ??= new IoError('export write', DESTINATION, error);
    wake?.();
  };
  const onClose = (): void => {
    if (!finished) failure ??= new IoError('export write', DESTINATION, new Error('the stream closed before the export finished'));
    wake?.();
  };
  const onDrain = (): void => wake?.();
  const onFinish = (): void => {
    finished = true;
    wake?.();
  };
  writable.on('error', onError);
  writable.on('close', onClose);
  writable.on('drain', onDrain);
  writable.on('finish', onFinish);

  const waitForEvent = async (): Promise<void> => {
    if (failure) throw failure;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    if (failure) throw failure;
  };

  // Chunks filled and waiting to be written; usually zero or one.
  const ready: Buffer[] = [];
  let chunk = Buffer.allocUnsafe(EXPORT_CHUNK_BYTES);
  let used = 0;
  let bytes = 0;
  const seal = (): void => {
    if (used === 0) return;
    ready.push(chunk.subarray(0, used));
    chunk = Buffer.allocUnsafe(EXPORT_CHUNK_BYTES);
    used = 0;
  };
  const sink: RecordSink = {
    text(s) {
      // A UTF-16 code unit takes at most 3 UTF-8 bytes.
      const worst = s.length * 3;
      if (used + worst > chunk.length) {
        seal();
        if (worst > chunk.length) {
          ready.push(Buffer.from(s, 'utf8'));
          return;
        }
      }
      used += chunk.write(s, used, 'utf8');
    },
    bytes(b) {
      if (used + b.length > chunk.length) {
        seal();
        if (b.length > chunk.length) {
          ready.push(Buffer.from(b));
          return;
        }
      }
      chunk.set(b, used);
      used += b.length;
    },
  };
  // Settles when the destination has processed the last chunk handed to it (its write callback).
  let lastWritten: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    while (ready.length > 0) {
      if (failure) throw failure;
      const next = ready.shift()!;
      bytes += next.length;
      let accepted = true;
      lastWritten = new Promise<void>((resolve) => {
        accepted = writable.write(next, (error?: Error | null) => {
          if (error) onError(error);
          resolve();
        });
      });
      if (!accepted) await waitForEvent();
    }
  };

  let count = 0;
  try {
    formatter.begin(sink);
    if (isAsyncIterable(items)) {
      for await (const item of items) {
        formatter.record(item, count++, sink);
        if (ready.length > 0) await flush();
      }
    } else {
      for (const item of items) {
        formatter.record(item, count++, sink);
        if (ready.length > 0) await flush();
      }
    }
    formatter.end(count, sink);
    seal();
    await flush();
    if (end) {
      writable.end();
      while (!finished) await waitForEvent();
    } else {
      // Left open: still report a write that failed, by waiting until the last chunk was processed.
      await lastWritten;
      if (failure) throw failure;
    }
    return { format, events: count, bytes };
  } catch (error) {
    // The export owns a destination it was asked to end: release it rather than leave it open.
    if (end && !writable.destroyed) writable.destroy();
    throw error;
  } finally {
    writable.off('error', onError);
    writable.off('close', onClose);
    writable.off('drain', onDrain);
    writable.off('finish', onFinish);
  }
}
