/**
 * Crypto-shredding of personal data (docs/integrity.md, "Personal data"). Each configured field of
 * an event (default actor.name, sourceIp, userAgent; paths into details allowed) is replaced, before
 * the event reaches the engine, by an envelope sealed with its subject's key (subject = actor.id):
 *
 *   {"$pd":"v1","ct":"<base64(12-byte nonce || AES-256-GCM ciphertext || 16-byte tag)>","kid":"<16 hex>"}
 *
 * The plaintext is the RFC 8785 JSON of the field's value; the additional data is
 * "<tenant id>\n<event id>\n<field path>", so an envelope cannot be moved to another event or field.
 * The envelope is part of the hashed form, so destroying the subject key (eraseSubject) changes no
 * leaf hash. Subject keys are kept in the `integrity_subjects` table, sealed under the store's
 * personal-data key, keyed by tenant prefix + actor id; value: 8-byte key id || nonce || sealed
 * 32-byte key || tag (AAD: the table key).
 *
 * Invariants: a field is sealed only when present and not null; reading an envelope whose subject
 * key is gone (or was replaced after an erasure: another key id) yields null and marks the event
 * erased, never an error or garbage.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { gcmOpen, gcmSeal } from '../codec/aes-gcm.js';
import { CorruptionError, ValidationError } from '../errors.js';
import { canonicalJson } from '../audit/canonical-json.js';
import { tenantPrefix } from './log-keys.js';
import type { LogReader, LogWriter } from './tile-log.js';

/** The table of sealed subject keys. */
export const SUBJECTS_TABLE = 'integrity_subjects';

/** Default personal-data fields. */
export const DEFAULT_PERSONAL_FIELDS: readonly string[] = ['actor.name', 'sourceIp', 'userAgent'];

/** Fields that may be personal data; indexed and identifying fields (ids, action, ...) may not. */
const ALLOWED_ROOTS = new Set(['actor.name', 'actor.type', 'resource.name', 'sourceIp', 'userAgent', 'sessionId', 'correlationId']);

/** Options of crypto-shredding (see docs/integrity.md). */
export interface PersonalDataOptions {
  /** Seal personal-data fields under per-subject keys. Default false. */
  enabled?: boolean;
  /** Field paths (default ['actor.name', 'sourceIp', 'userAgent']); `details.<a>.<b>` allowed. */
  fields?: string[];
}

export function resolvePersonalDataOptions(o: unknown): { enabled: boolean; fields: string[][] } {
  if (o === undefined) o = {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ValidationError('personalData must be an object such as { enabled: true }');
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) if (k !== 'enabled' && k !== 'fields') throw new ValidationError(`unknown personalData option ${k}; use enabled or fields`);
  if (r.enabled !== undefined && typeof r.enabled !== 'boolean') throw new ValidationError('personalData.enabled must be true or false');
  const fields = r.fields ?? DEFAULT_PERSONAL_FIELDS;
  if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string')) throw new ValidationError('personalData.fields must be an array of field paths such as "actor.name"');
  for (const f of fields as string[]) {
    if (!ALLOWED_ROOTS.has(f) && !/^details(\.[^.]+)+$/.test(f)) {
      throw new ValidationError(`personalData.fields: ${JSON.stringify(f)} cannot be personal data; use ${[...ALLOWED_ROOTS].join(', ')} or a path into details such as details.email`);
    }
  }
  return { enabled: (r.enabled as boolean | undefined) ?? false, fields: (fields as string[]).map((f) => f.split('.')) };
}

/** A sealed field value. */
export interface Envelope {
  $pd: 'v1';
  ct: string;
  kid: string;
}

export function isEnvelope(v: unknown): v is Envelope {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return e.$pd === 'v1' && typeof e.ct === 'string' && typeof e.kid === 'string' && Object.keys(e).length === 3;
}

// Nonces come from a pooled CSPRNG buffer: one randomBytes call per 341 nonces instead of one per
// sealed field, which on the insert path cost more than the encryption itself.
let noncePool = Buffer.alloc(0);
let noncePos = 0;

function nextNonce(): Buffer {
  if (noncePos + 12 > noncePool.length) {
    noncePool = randomBytes(4092);
    noncePos = 0;
  }
  noncePos += 12;
  return noncePool.subarray(noncePos - 12, noncePos);
}

/** AES-256-GCM seal in gcmSeal's layout (nonce || ciphertext || tag), so gcmOpen opens it. */
function sealField(key: Buffer, data: Buffer, additional: Buffer): Buffer {
  const nonce = nextNonce();
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(additional);
  const body = c.update(data);
  const tail = c.final();
  return Buffer.concat([nonce, body, tail, c.getAuthTag()]);
}

function subjectKeyOf(tenantId: string, subject: string): Buffer {
  return Buffer.concat([tenantPrefix(tenantId), Buffer.from(subject, 'utf8')]);
}

function aad(tenantId: string, eventId: string, path: string[]): Buffer {
  return Buffer.from(`${tenantId}\n${eventId}\n${path.join('.')}`, 'utf8');
}

/** A subject's key, unsealed. */
export interface SubjectKey {
  kid: string;
  key: Buffer;
}

/** Where sealing and opening find subject keys. */
export interface SubjectKeyLookup {
  /** The subject's key, or undefined when it has none (never had one, or it was erased). */
  get(tenantId: string, subject: string): SubjectKey | undefined;
  /** The subject's key, created when it has none. */
  getOrCreate(tenantId: string, subject: string): SubjectKey;
}

/** The table key of a subject's key record. */
export function subjectRecordKey(tenantId: string, subject: string): Buffer {
  return subjectKeyOf(tenantId, subject);
}

/** A new subject key and its sealed record (8-byte key id || sealed key). */
export function newSubjectKey(storeKey: Buffer, tenantId: string, subject: string): { key: SubjectKey; record: Buffer } {
  const kid = randomBytes(8);
  const key = randomBytes(32);
  return { key: { kid: kid.toString('hex'), key }, record: Buffer.concat([kid, gcmSeal(storeKey, key, subjectKeyOf(tenantId, subject))]) };
}

export function unsealSubject(storeKey: Buffer, tableKey: Buffer, v: Uint8Array): SubjectKey {
  if (v.length !== 8 + 12 + 32 + 16) throw new CorruptionError(SUBJECTS_TABLE, 0, `a subject key record is ${v.length} bytes, not 68`);
  try {
    return { kid: Buffer.from(v.subarray(0, 8)).toString('hex'), key: Buffer.from(gcmOpen(storeKey, v.subarray(8), tableKey)) };
  } catch {
    throw new CorruptionError(SUBJECTS_TABLE, 0, 'a subject key does not open under the personal-data key: the key file changed or the record was altered');
  }
}

/** Reads subject keys (with a per-instance cache); `erased` subjects read as undefined. */
export class SubjectKeys implements SubjectKeyLookup {
  private readonly cache = new Map<string, SubjectKey | null>();

  constructor(
    private readonly storeKey: Buffer,
    private readonly kv: LogReader,
  ) {}

  get(tenantId: string, subject: string): SubjectKey | undefined {
    const ck = `${tenantId}\u0000${subject}`;
    let k = this.cache.get(ck);
    if (k === undefined) {
      const tk = subjectKeyOf(tenantId, subject);
      const v = this.kv.get(tk);
      k = v === undefined ? null : unsealSubject(this.storeKey, tk, v);
      this.cache.set(ck, k);
    }
    return k ?? undefined;
  }

  /** The subject's key, created (inside the caller's transaction) when it has none. */
  getOrCreate(tenantId: string, subject: string): SubjectKey {
    const have = this.get(tenantId, subject);
    if (have !== undefined) return have;
    const { key, record } = newSubjectKey(this.storeKey, tenantId, subject);
    (this.kv as LogWriter).put(subjectKeyOf(tenantId, subject), record);
    this.cache.set(`${tenantId}\u0000${subject}`, key);
    return key;
  }

  /** Destroys a subject's key (inside the caller's transaction). Returns whether it existed. */
  erase(tenantId: string, subject: string, tx: { delete(key: Uint8Array): boolean }): boolean {
    this.cache.delete(`${tenantId}\u0000${subject}`);
    return tx.delete(subjectKeyOf(tenantId, subject));
  }
}

function getPath(o: Record<string, unknown>, path: string[]): { parent: Record<string, unknown>; leaf: string } | undefined {
  let cur: unknown = o;
  for (let i = 0; i < path.length - 1; i++) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[path[i]!];
  }
  if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
  const parent = cur as Record<string, unknown>;
  const leaf = path[path.length - 1]!;
  return leaf in parent ? { parent, leaf } : undefined;
}

/**
 * Seals the personal-data fields of an event (parsed from its canonical JSON) in place; returns
 * whether anything was sealed.
 */
export function sealEvent(event: Record<string, unknown>, fields: readonly string[][], keys: SubjectKeyLookup): boolean {
  const tenantId = event.tenantId as string;
  const eventId = event.id as string;
  const subject = (event.actor as { id: string }).id;
  let sealed = false;
  for (const path of fields) {
    const at = getPath(event, path);
    if (at === undefined) continue;
    const v = at.parent[at.leaf];
    if (v === null || v === undefined || isEnvelope(v)) continue;
    const k = keys.getOrCreate(tenantId, subject);
    const ct = sealField(k.key, Buffer.from(canonicalJson(v), 'utf8'), aad(tenantId, eventId, path));
    at.parent[at.leaf] = { $pd: 'v1', ct: ct.toString('base64'), kid: k.kid } satisfies Envelope;
    sealed = true;
  }
  return sealed;
}

/**
 * Replaces every envelope of a stored event by its plaintext, or by null (and sets `erased: true`)
 * when the subject's key is gone. Returns the event (changed in place).
 */
export function openEvent<T extends object>(event: T, fields: readonly string[][], keys: SubjectKeyLookup): T {
  const ev = event as Record<string, unknown>;
  const tenantId = ev.tenantId as string;
  const eventId = ev.id as string;
  const subject = (ev.actor as { id: string } | undefined)?.id ?? '';
  for (const path of fields) {
    const at = getPath(ev, path);
    if (at === undefined) continue;
    const env = at.parent[at.leaf];
    if (!isEnvelope(env)) continue;
    const k = keys.get(tenantId, subject);
    let value: unknown = null;
    if (k !== undefined && k.kid === env.kid) {
      try {
        value = JSON.parse(Buffer.from(gcmOpen(k.key, Buffer.from(env.ct, 'base64'), aad(tenantId, eventId, path))).toString('utf8'));
      } catch {
        throw new CorruptionError(SUBJECTS_TABLE, 0, `the personal data of event ${eventId} (${path.join('.')}) fails authentication: the envelope or the subject key was altered`);
      }
    }
    if (value === null) ev.erased = true;
    at.parent[at.leaf] = value;
  }
  return event;
}
