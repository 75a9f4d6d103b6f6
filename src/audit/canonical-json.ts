/**
 * RFC 8785 (JCS) canonical JSON: object members sorted by their names' UTF-16 code units, no
 * whitespace, strings and numbers serialised exactly as ECMAScript's JSON.stringify does (which is
 * what JCS prescribes). Stored events are these bytes, so the integrity layer hashes exactly what is
 * stored and ndjson export copies stored bytes without decoding them.
 *
 * Invariant: `canonicalJson(JSON.parse(canonicalJson(v))) === canonicalJson(v)` for every value it
 * accepts. It refuses what JSON cannot carry faithfully (undefined, functions, symbols, bigints,
 * non-finite numbers, non-plain objects, cycles) by throwing a ValidationError naming the path, so a
 * value never reads back different from how it was written.
 */
import { ValidationError } from '../errors.js';

const MAX_DEPTH = 64;

/** The canonical JSON text of `value`; `path` names the value in error messages. */
export function canonicalJson(value: unknown, path = 'value'): string {
  try {
    return fast(value, 0);
  } catch (err) {
    if (err !== REFUSED) throw err;
    // Something is not JSON: run the checked walk, which names the path in its error.
    return write(value, path, 0);
  }
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * JSON.stringify(s) for a string: most strings of an event need no escape, and quoting them
 * directly costs half of JSON.stringify's call. A quote, a backslash, a control character or any
 * surrogate (JSON.stringify escapes the unpaired ones) goes through JSON.stringify.
 */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** Thrown by the fast walk, which tracks no path; the checked walk then reports where. */
const REFUSED = new Error('not canonical JSON');

function fast(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string':
      return jsonString(v);
    case 'number':
      if (!Number.isFinite(v)) throw REFUSED;
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth >= MAX_DEPTH) throw REFUSED;
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + fast(v[i], depth + 1);
        return s + ']';
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw REFUSED;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length > 1) sortNames(keys);
      let s = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        s += (i > 0 ? ',' : '') + jsonString(k) + ':' + fast(o[k], depth + 1);
      }
      return s + '}';
    }
    default:
      throw REFUSED;
  }
}

/**
 * Sorts member names in place by UTF-16 code units (JCS order, what the default sort and `<` on
 * strings both compare). A details object has a handful of members: an insertion sort orders them
 * without the scratch array Array.prototype.sort allocates, once per object of every event.
 */
function sortNames(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

function write(v: unknown, path: string, depth: number): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new ValidationError(`${path} is ${v}, which JSON cannot represent; use a finite number`);
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (depth >= MAX_DEPTH) throw new ValidationError(`${path} nests deeper than ${MAX_DEPTH} levels; flatten it`);
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) {
          if (i > 0) s += ',';
          s += write(v[i], `${path}[${i}]`, depth + 1);
        }
        return s + ']';
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new ValidationError(`${path} is a ${(v as object).constructor?.name ?? 'non-plain object'}; only plain JSON objects, arrays, strings, numbers, booleans and null are allowed`);
      }
      return writeObject(v as Record<string, unknown>, path, depth);
    }
    default:
      throw new ValidationError(`${path} is ${v === undefined ? 'undefined' : `a ${typeof v}`}; JSON has no such value, so it would not read back as written (omit the field or use null)`);
  }
}

function writeObject(o: Record<string, unknown>, path: string, depth: number): string {
  // Default sort compares UTF-16 code units, which is exactly JCS's member order.
  const keys = Object.keys(o).sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i > 0) s += ',';
    s += JSON.stringify(k) + ':' + write(o[k], `${path}.${k}`, depth + 1);
  }
  return s + '}';
}
