/**
 * The `integrity` option of AuditStoreOptions: whether the per-tenant Merkle logs are kept, how
 * often checkpoints are signed, the signing key and the checkpoint origin. Nested under one option
 * because RedbOptions already has an engine-level `checkpointIntervalMs` (page-file checkpoints);
 * these are log checkpoints, a different thing.
 *
 * Invariant: resolve() either returns complete, valid options or throws ValidationError naming the
 * option and its allowed range.
 */
import { ValidationError } from '../errors.js';
import { checkKeyName } from './signed-note.js';

/** Options of the tamper-evident log (see docs/integrity.md). */
export interface IntegrityOptions {
  /** Keep a Merkle log per tenant and sign checkpoints. Default true. */
  enabled?: boolean;
  /** Sign a checkpoint each time a tenant's log grows by this many events (1 to 10^9). Default 10,000. */
  checkpointEvery?: number;
  /** Sign a checkpoint for every tenant whose log grew, at this interval in ms; 0 turns it off. Default 60,000. */
  checkpointIntervalMs?: number;
  /**
   * Ed25519 private key, PKCS#8 PEM. When absent a key is generated and kept in the base directory
   * (`integrity-signing-key.pem`); health() then warns that in production it should live outside the store.
   */
  signingKey?: string;
  /**
   * Name of the log: the signed-note key name, and the prefix of each tenant's checkpoint origin
   * (`<origin>/<tenantId>`). No spaces or '+'. Default `redb-audit/<8 hex digits of the public key's SHA-256>`.
   */
  origin?: string;
}

export interface ResolvedIntegrityOptions {
  enabled: boolean;
  checkpointEvery: number;
  checkpointIntervalMs: number;
  signingKey: string | undefined;
  origin: string | undefined;
}

const KNOWN = ['enabled', 'checkpointEvery', 'checkpointIntervalMs', 'signingKey', 'origin'];

export function resolveIntegrityOptions(o: unknown): ResolvedIntegrityOptions {
  if (o === undefined) o = {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ValidationError('integrity must be an object such as { enabled: true, checkpointEvery: 10000 }');
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!KNOWN.includes(k)) throw new ValidationError(`unknown integrity option ${k}; use ${KNOWN.join(', ')}`);
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = r[name] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ValidationError(`integrity.${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
    return v;
  };
  if (r.enabled !== undefined && typeof r.enabled !== 'boolean') throw new ValidationError('integrity.enabled must be true or false');
  if (r.signingKey !== undefined && typeof r.signingKey !== 'string') throw new ValidationError('integrity.signingKey must be a PKCS#8 PEM string');
  if (r.origin !== undefined && (typeof r.origin !== 'string' || r.origin.length > 200)) throw new ValidationError('integrity.origin must be a string of 1 to 200 characters');
  if (typeof r.origin === 'string') checkKeyName(r.origin);
  return {
    enabled: (r.enabled as boolean | undefined) ?? true,
    checkpointEvery: int('checkpointEvery', 10_000, 1, 1e9),
    checkpointIntervalMs: int('checkpointIntervalMs', 60_000, 0, 2 ** 31 - 1),
    signingKey: r.signingKey as string | undefined,
    origin: r.origin as string | undefined,
  };
}
