/** Checks on every key, value, table name and range the public API accepts. */
import { ValidationError } from '../errors.js';

/** Longest key accepted, in bytes. */
export const MAX_KEY_SIZE = 2048;
/** Largest value accepted, in bytes (256 MiB). */
export const MAX_VALUE_SIZE = 256 * 1024 * 1024;
/** Longest table name, in UTF-8 bytes. */
export const MAX_TABLE_NAME = 255;
/** Table used by the `Database`, `WriteTxn` and `Snapshot` methods that take no table name. */
export const DEFAULT_TABLE = 'default';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? (v as object).constructor?.name ?? 'an object' : typeof v;
}

export function checkKey(key: unknown, what = 'key'): Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new ValidationError(`${what} must be a Uint8Array (or Buffer), got ${describe(key)}; encode strings with TextEncoder or Buffer.from`);
  }
  if (key.length === 0 || key.length > MAX_KEY_SIZE) {
    throw new ValidationError(`${what} must be 1 to ${MAX_KEY_SIZE} bytes long, got ${key.length}`);
  }
  return key;
}

export function checkValue(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new ValidationError(`value must be a Uint8Array (or Buffer), got ${describe(value)}; encode other types first`);
  }
  if (value.length > MAX_VALUE_SIZE) {
    throw new ValidationError(`value must be at most ${MAX_VALUE_SIZE} bytes, got ${value.length}; split it or store it elsewhere`);
  }
  return value;
}

/** Table names starting with this belong to the engine's own tables (deduplicated values, ...). */
export const RESERVED_TABLE_PREFIX = '__';

/**
 * Whether a table name is reserved for the engine. The one place the rule lives: listings hide
 * these tables, commits write them straight into their trees, verify and repair treat them apart.
 */
export function isReservedTableName(name: string): boolean {
  return name.startsWith(RESERVED_TABLE_PREFIX);
}

/** Names starting with "__" are reserved for the engine's own tables. */
export function checkTableName(name: unknown, allowReserved = false): string {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError(`table name must be a non-empty string, got ${describe(name)}`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_TABLE_NAME) throw new ValidationError(`table name must be at most ${MAX_TABLE_NAME} UTF-8 bytes, got ${bytes}`);
  if (!allowReserved && isReservedTableName(name)) throw new ValidationError(`table name ${JSON.stringify(name)} is reserved: names starting with "__" belong to the engine`);
  return name;
}

/** Options of a range scan. Bounds are keys; `limit` caps the number of entries returned. */
export interface RangeOptions {
  /** Only keys >= this. */
  gte?: Uint8Array;
  /** Only keys > this. */
  gt?: Uint8Array;
  /** Only keys <= this. */
  lte?: Uint8Array;
  /** Only keys < this. */
  lt?: Uint8Array;
  /** Descending order. Default false. */
  reverse?: boolean;
  /** At most this many entries (a non-negative integer). Default: no limit. */
  limit?: number;
}

const RANGE_OPTIONS = new Set(['gte', 'gt', 'lte', 'lt', 'reverse', 'limit']);

export function checkRange(opts: unknown): RangeOptions {
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new ValidationError('range options must be an object');
  const o = opts as Record<string, unknown>;
  for (const k in o) {
    if (Object.hasOwn(o, k) && !RANGE_OPTIONS.has(k)) throw new ValidationError(`unknown range option ${k}; use gte, gt, lte, lt, reverse or limit`);
  }
  if (o.gte !== undefined && o.gt !== undefined) throw new ValidationError('give at most one of gte and gt');
  if (o.lte !== undefined && o.lt !== undefined) throw new ValidationError('give at most one of lte and lt');
  // Each bound checked by name, no array per call: every query's scans pass here.
  if (o.gte !== undefined) checkKey(o.gte, 'range bound gte');
  if (o.gt !== undefined) checkKey(o.gt, 'range bound gt');
  if (o.lte !== undefined) checkKey(o.lte, 'range bound lte');
  if (o.lt !== undefined) checkKey(o.lt, 'range bound lt');
  if (o.reverse !== undefined && typeof o.reverse !== 'boolean') throw new ValidationError('range option reverse must be a boolean');
  if (o.limit !== undefined && (typeof o.limit !== 'number' || !Number.isInteger(o.limit) || o.limit < 0)) {
    throw new ValidationError(`range option limit must be a non-negative integer, got ${JSON.stringify(o.limit)}`);
  }
  return o as RangeOptions;
}
