/**
 * The keys of an encrypted store. Each key has a small id, recorded with every encrypted unit, and a
 * key-check value (the first 16 bytes of HMAC-SHA256(key, "redb-audit key check v1")) recorded in the
 * header, so that a wrong or missing key is refused at open, before anything is read or written.
 *
 * Rotation adds a key and makes it current: new writes use it, older units keep naming theirs.
 * `rekey` rewrites everything under the current key and then retires the others from the ring.
 */
import crypto from 'node:crypto';
import { EncryptionKeyError } from '../errors.js';
import type { ResolvedKey } from './key-source.js';

/** Key derivation of a ring entry. */
export const Kdf = { Raw: 0, Scrypt: 1 } as const;

/** A key as the header records it: id, how it is derived, and its check value. */
export interface KeyRingEntry {
  id: number;
  kdf: number;
  /** scrypt salt (zeros for raw keys). */
  salt: Uint8Array;
  kcv: Uint8Array;
}

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s here), the usual interactive setting. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export function keyCheckValue(key: Uint8Array): Uint8Array {
  return crypto.createHmac('sha256', key).update('redb-audit key check v1').digest().subarray(0, 16);
}

function derive(passphrase: string, salt: Uint8Array): Buffer {
  return crypto.scryptSync(passphrase, salt, 32, SCRYPT);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export class KeyRing {
  private readonly keys = new Map<number, Buffer>();

  private constructor(
    private entriesList: KeyRingEntry[],
    private current: number,
  ) {}

  /** The id new units are encrypted with. */
  get currentId(): number {
    return this.current;
  }

  get entries(): readonly KeyRingEntry[] {
    return this.entriesList;
  }

  key(id: number): Buffer | undefined {
    return this.keys.get(id);
  }

  /** A ring for a new store: the given key as key id 1. */
  static create(key: ResolvedKey): KeyRing {
    const ring = new KeyRing([], 0);
    ring.add(key);
    return ring;
  }

  /**
   * Matches the given keys against the entries a store's header records. Every recorded key must be
   * supplied (old ones through `previous`); `current` becomes the key for new writes, added to the
   * ring if it is new (a rotation at open). Throws EncryptionKeyError for a wrong or missing key.
   */
  static open(stored: readonly KeyRingEntry[], current: ResolvedKey, previous: readonly ResolvedKey[]): KeyRing {
    const ring = new KeyRing(stored.map((e) => ({ ...e })), 0);
    let currentId = 0;
    for (const [i, source] of [current, ...previous].entries()) {
      for (const e of stored) {
        if (ring.keys.has(e.id)) continue;
        const key = source.kind === 'raw' ? (e.kdf === Kdf.Raw ? source.key : null) : e.kdf === Kdf.Scrypt ? derive(source.passphrase, e.salt) : null;
        if (key && sameBytes(keyCheckValue(key), e.kcv)) {
          ring.keys.set(e.id, key);
          if (i === 0) currentId = e.id;
          break;
        }
      }
    }
    const missing = stored.filter((e) => !ring.keys.has(e.id)).map((e) => e.id);
    if (missing.length > 0) {
      const wrongCurrent = currentId === 0;
      throw new EncryptionKeyError(
        (wrongCurrent ? `the ${current.label} given is not a key of this store` : 'a key of this store is missing') +
          ` (key id${missing.length > 1 ? 's' : ''} ${missing.join(', ')} unmatched). Pass the right key as encryptionKey, ` +
          'and keys from before a rotation as previousEncryptionKeys (or rekey() to retire them)',
      );
    }
    ring.current = currentId;
    if (currentId === 0) ring.add(current);
    return ring;
  }

  /** Adds a key and makes it current; returns its id. */
  add(source: ResolvedKey): number {
    const id = this.entriesList.reduce((m, e) => Math.max(m, e.id), 0) + 1;
    if (id > 0xffff) throw new EncryptionKeyError('the key ring is full; rekey() to retire old keys');
    let key: Buffer;
    let salt = new Uint8Array(16);
    if (source.kind === 'raw') {
      key = source.key;
    } else {
      salt = crypto.randomBytes(16);
      key = derive(source.passphrase, salt);
    }
    const kcv = keyCheckValue(key);
    const existing = this.entriesList.find((e) => this.keys.has(e.id) && sameBytes(e.kcv, kcv));
    if (existing) {
      this.current = existing.id;
      return existing.id;
    }
    this.entriesList.push({ id, kdf: source.kind === 'raw' ? Kdf.Raw : Kdf.Scrypt, salt, kcv });
    this.keys.set(id, key);
    this.current = id;
    return id;
  }

  /** A ring holding only the current key: for a copy written entirely under it (a snapshot). */
  currentOnly(): KeyRing {
    const ring = new KeyRing(this.entriesList.filter((e) => e.id === this.current), this.current);
    ring.keys.set(this.current, this.keys.get(this.current)!);
    return ring;
  }

  /** The ring's state, to put back with {@link restore} if a rotation cannot be made durable. */
  save(): { entries: KeyRingEntry[]; current: number; keys: Map<number, Buffer> } {
    return { entries: [...this.entriesList], current: this.current, keys: new Map(this.keys) };
  }

  restore(state: { entries: KeyRingEntry[]; current: number; keys: Map<number, Buffer> }): void {
    this.entriesList = [...state.entries];
    this.current = state.current;
    this.keys.clear();
    for (const [id, key] of state.keys) this.keys.set(id, key);
  }

  /** Forgets every key but the current one (after everything was rewritten under it). */
  retireOthers(): void {
    this.entriesList = this.entriesList.filter((e) => e.id === this.current);
    for (const id of [...this.keys.keys()]) if (id !== this.current) this.keys.delete(id);
  }
}
