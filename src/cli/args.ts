/**
 * Parsers for option values, shared by the verbs. They throw commander's InvalidArgumentError, so a
 * bad value is a usage error (exit 64) reported with the option's name, before anything is opened.
 */
import { InvalidArgumentError } from 'commander';

/** An integer within [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${n}`);
    return n;
  };
}

/** One of a fixed set of words. */
export function choiceArg<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value: string) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got "${value}"`);
    return value as T;
  };
}

/** A point in time: epoch milliseconds or an ISO-8601 date, returned as epoch milliseconds. */
export function timeArg(value: string): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected epoch milliseconds or an ISO-8601 date such as 2026-03-01T00:00:00Z, got "${value}"`);
  return ms;
}
