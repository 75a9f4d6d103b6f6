/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form of a JSON value that the integrity
 * log hashes. Object members are sorted by the UTF-16 code units of their names, there is no
 * whitespace, strings use JSON's minimal escaping and numbers ECMAScript's shortest round-trip form,
 * which is what JSON.stringify already produces for a string or a finite number. So canonicalising
 * the same value always yields the same bytes, whatever order its keys were built in.
 *
 * Invariant: only JSON values are accepted. Non-finite numbers, undefined, functions, symbols,
 * bigints, lone surrogates and cycles throw ValidationError instead of being silently dropped (as
 * JSON.stringify would), because a dropped member would make two different events hash alike.
 */
import { ValidationError } from '../errors.js';

/** Returns the JCS text of `value`. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Set(), '$');
  return out.join('');
}

/** Returns the UTF-8 bytes of the JCS text of `value`: the "canonical bytes" the log hashes. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function writeString(s: string, out: string[], at: string): void {
  if (LONE_SURROGATE.test(s)) throw new ValidationError(`${at} contains a lone UTF-16 surrogate, which JSON canonicalisation (RFC 8785) rejects; send well-formed Unicode`);
  out.push(JSON.stringify(s));
}

function write(value: unknown, out: string[], seen: Set<object>, at: string): void {
  switch (typeof value) {
    case 'string':
      writeString(value, out, at);
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new ValidationError(`${at} is ${value}, which is not a JSON number; use a finite number or a string`);
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      break;
    default:
      throw new ValidationError(`${at} is a ${typeof value}, which JSON cannot hold; use a string, number, boolean, null, array or object`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (seen.has(value)) throw new ValidationError(`${at} refers back to itself; JSON values cannot be cyclic`);
  seen.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      write(value[i], out, seen, `${at}[${i}]`);
    }
    out.push(']');
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new ValidationError(`${at} is a ${proto?.constructor?.name ?? 'non-plain'} object; only plain objects are JSON (convert Dates to strings or numbers first)`);
    }
    const obj = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, exactly what RFC 8785 section 3.2.3 asks for.
    const keys = Object.keys(obj).sort();
    out.push('{');
    let first = true;
    for (const k of keys) {
      const v = obj[k];
      if (v === undefined) continue; // an absent optional field, as JSON.parse would give back
      if (!first) out.push(',');
      first = false;
      writeString(k, out, `${at}.${k}`);
      out.push(':');
      write(v, out, seen, `${at}.${k}`);
    }
    out.push('}');
  }
  seen.delete(value);
}
