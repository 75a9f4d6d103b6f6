/**
 * The audit store's side of crypto-shredding: seals each prepared event's personal-data fields
 * before the insert transaction, writes the subject keys it created inside that transaction (the
 * insert hook), opens envelopes on read, and destroys a subject's keys (eraseSubject).
 *
 * A subject key created while preparing a batch is held in `pending` (until the subject is erased);
 * every later batch of this process reuses it, so concurrent batches of one new subject agree on one
 * key, and each insert transaction that carries the subject writes the record if it is not there yet. The store key seals subject keys: the engine's encryption key when encryption is on, else a
 * key generated in the base directory (`personal-data.key`, mode 0600).
 *
 * Invariant: an event's envelopes and its subject's key record commit in the same transaction, so
 * no durable event is sealed under a key that is not durable.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { resolveKeySource, type KeySource } from '../codec/key-source.js';
import { IoError } from '../errors.js';
import { writeFileAtomic } from '../io/durable-file.js';
import type { Database } from '../shard/database.js';
import type { WriteTxn } from '../shard/txn/write-txn.js';
import { canonicalJson } from '../audit/canonical-json.js';
import {
  newSubjectKey,
  openEvent,
  sealEvent,
  subjectRecordKey,
  SUBJECTS_TABLE,
  unsealSubject,
  type SubjectKey,
  type SubjectKeyLookup,
} from './personal-data.js';
import { tenantOfKey } from './log-keys.js';

/** The file a generated personal-data key is kept in. */
export const PD_KEY_FILE = 'personal-data.key';

/** The store key: from the engine's encryption key when there is one, else the base directory's. */
export function resolveStoreKey(baseDir: string, encryptionKey: KeySource | undefined, readOnly = false): { key: Buffer; generated: boolean } {
  if (encryptionKey !== undefined) {
    const r = resolveKeySource(encryptionKey);
    // A distinct key per purpose: the engine's key never seals subject keys directly.
    const material = r.kind === 'raw' ? r.key : Buffer.from(r.passphrase, 'utf8');
    return { key: scryptSync(material, 'redb-audit personal-data key', 32), generated: false };
  }
  const file = path.join(baseDir, PD_KEY_FILE);
  try {
    const k = fs.readFileSync(file);
    if (k.length === 32) return { key: k, generated: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError('reading the personal-data key', file, err);
  }
  const key = randomBytes(32);
  // Read-only writes nothing; without the file no subject key was ever sealed, so none is lost.
  if (readOnly) return { key, generated: true };
  writeFileAtomic(file, key, 0o600);
  return { key, generated: true };
}

/** The fields of a prepared event the vault touches. */
export interface SealableEvent {
  tenantId: string;
  actorId: string;
  json: Buffer;
}

export class PersonalDataVault implements SubjectKeyLookup {
  private readonly pending = new Map<string, { tenantId: string; subject: string; key: SubjectKey; record: Buffer }>();
  private readonly cache = new Map<string, SubjectKey | null>();

  constructor(
    private readonly storeKey: Buffer,
    readonly fields: readonly string[][],
    private readonly shardOf: (tenantId: string) => Database,
  ) {}

  get(tenantId: string, subject: string): SubjectKey | undefined {
    const ck = `${tenantId}\u0000${subject}`;
    const p = this.pending.get(ck);
    if (p !== undefined) return p.key;
    let k = this.cache.get(ck);
    if (k === undefined) {
      const tk = subjectRecordKey(tenantId, subject);
      const v = this.shardOf(tenantId).table(SUBJECTS_TABLE).get(tk);
      k = v === undefined ? null : unsealSubject(this.storeKey, tk, v);
      if (this.cache.size > 100_000) this.cache.clear();
      this.cache.set(ck, k);
    }
    return k ?? undefined;
  }

  getOrCreate(tenantId: string, subject: string): SubjectKey {
    const have = this.get(tenantId, subject);
    if (have !== undefined) return have;
    const { key, record } = newSubjectKey(this.storeKey, tenantId, subject);
    this.pending.set(`${tenantId}\u0000${subject}`, { tenantId, subject, key, record });
    return key;
  }

  /** Seals a prepared event's personal-data fields, rewriting its canonical bytes. */
  seal(e: SealableEvent): void {
    const text = e.json.toString('utf8');
    const ev = JSON.parse(text) as Record<string, unknown>;
    if (sealEvent(ev, this.fields, this)) e.json = Buffer.from(canonicalJson(ev), 'utf8');
  }

  /** Insert hook: writes, in the insert transaction, the pending keys of these events' subjects. */
  onInsert(tx: WriteTxn, tenantId: string, events: readonly SealableEvent[]): void {
    if (this.pending.size === 0) return;
    const t = tx.table(SUBJECTS_TABLE);
    const done = new Set<string>();
    for (const e of events) {
      const ck = `${tenantId}\u0000${e.actorId}`;
      if (done.has(ck)) continue;
      done.add(ck);
      const p = this.pending.get(ck);
      if (p === undefined) continue;
      // The entry stays pending: this commit may still fail, and a batch prepared meanwhile may have
      // sealed under the same key; whichever commits first writes the record, the others find it.
      const tk = subjectRecordKey(tenantId, e.actorId);
      if (!t.has(tk)) t.put(tk, p.record);
    }
  }

  /** Replaces the envelopes of an event read back by plaintext, or null with erased: true. */
  reveal<T extends object>(event: T): T {
    return openEvent(event, this.fields, this);
  }

  /** Destroys every key of `subject` in the given shards; returns the tenants it had keys in. */
  erase(subject: string, shards: readonly Database[]): string[] {
    const tenants: string[] = [];
    for (const [ck, p] of this.pending) if (p.subject === subject) this.pending.delete(ck);
    const suffix = Buffer.from(subject, 'utf8');
    for (const db of shards) {
      // Find the subject's records first, so shards that hold none are not written to.
      const doomed: { key: Buffer; tenantId: string }[] = [];
      for (const { key } of db.table(SUBJECTS_TABLE).range()) {
        const tenantId = tenantOfKey(key);
        if (tenantId === undefined) continue;
        const plen = 2 + Buffer.byteLength(tenantId, 'utf8');
        if (key.length - plen === suffix.length && Buffer.compare(key.subarray(plen), suffix) === 0) doomed.push({ key, tenantId });
      }
      if (doomed.length === 0) continue;
      db.write((tx) => {
        const t = tx.table(SUBJECTS_TABLE);
        for (const d of doomed) t.delete(d.key);
      });
      tenants.push(...doomed.map((d) => d.tenantId));
    }
    for (const t of tenants) this.cache.delete(`${t}\u0000${subject}`);
    return tenants;
  }
}
