/**
 * The C2SP tlog-checkpoint body (https://c2sp.org/tlog-checkpoint): "<origin>\n<decimal size>\n
 * <base64 root hash>\n", signed as a signed note (signed-note.ts).
 *
 * Invariant: parse(format(x)) = x; a body with a non-canonical size (leading zeros, sign) or a
 * root that is not 32 bytes is rejected rather than guessed at.
 */
import { ValidationError } from '../errors.js';
import { HASH_SIZE } from './merkle.js';

/** A parsed checkpoint. */
export interface CheckpointBody {
  origin: string;
  size: number;
  rootHash: Buffer;
}

export function formatCheckpoint(origin: string, size: number, rootHash: Uint8Array): string {
  return `${origin}\n${size}\n${Buffer.from(rootHash).toString('base64')}\n`;
}

/** Parses a checkpoint body (the note text, without signatures); undefined when malformed. */
export function parseCheckpoint(text: string): CheckpointBody | undefined {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') return undefined;
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0 || !/^(0|[1-9][0-9]*)$/.test(sizeText)) return undefined;
  const size = Number(sizeText);
  const rootHash = Buffer.from(rootText, 'base64');
  if (!Number.isSafeInteger(size) || rootHash.length !== HASH_SIZE || rootHash.toString('base64') !== rootText) return undefined;
  return { origin, size, rootHash };
}

/** The default origin line of a tenant's log: names the log uniquely across stores and tenants. */
export function defaultOrigin(storeId: string, tenantId: string): string {
  const o = `redb-audit/${storeId}/${tenantId}`;
  if (/\n/.test(o)) throw new ValidationError('a tenant id used in a checkpoint origin may not contain a newline');
  return o;
}
