/**
 * An in-memory sorted key-value table with the get/put/range surface of a TxTable, for testing the
 * integrity log without a database.
 */
import type { LogWriter } from '../../src/integrity/tile-log.js';

export class MemKv implements LogWriter {
  readonly map = new Map<string, Buffer>();
  puts = 0;
  gets = 0;

  get(key: Uint8Array): Buffer | undefined {
    this.gets++;
    return this.map.get(Buffer.from(key).toString('hex'));
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.puts++;
    this.map.set(Buffer.from(key).toString('hex'), Buffer.from(value));
  }

  delete(key: Uint8Array): boolean {
    return this.map.delete(Buffer.from(key).toString('hex'));
  }

  *range(o: { gte?: Uint8Array; lt?: Uint8Array; reverse?: boolean; limit?: number }): Iterable<{ key: Buffer; value: Buffer }> {
    this.gets++; // a range read counts as one read
    const keys = [...this.map.keys()].map((k) => Buffer.from(k, 'hex')).sort(Buffer.compare);
    if (o.reverse) keys.reverse();
    let n = 0;
    for (const k of keys) {
      if (o.gte && Buffer.compare(k, o.gte) < 0) continue;
      if (o.lt && Buffer.compare(k, o.lt) >= 0) continue;
      if (o.limit !== undefined && n >= o.limit) return;
      n++;
      yield { key: k, value: this.map.get(k.toString('hex'))! };
    }
  }
}
