/**
 * Where an encryption key comes from. Every source yields 32 bytes for AES-256, or a passphrase that
 * the key ring stretches with scrypt (its salt is kept in the store's header).
 */
import fs from 'node:fs';
import { EncryptionKeyError } from '../errors.js';

/**
 * An AES-256 key: 32 raw bytes, a file holding them (raw, 64 hex digits or base64), an environment
 * variable holding them (64 hex digits or base64), or a passphrase stretched with scrypt.
 */
export type KeySource = Uint8Array | { file: string } | { env: string } | { passphrase: string };

/** A key source read and checked: raw key bytes or a passphrase still to stretch. */
export type ResolvedKey = { kind: 'raw'; key: Buffer; label: string } | { kind: 'passphrase'; passphrase: string; label: string };

function parseText(text: string, where: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  const b64 = Buffer.from(t, 'base64');
  if (b64.length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(t)) return b64;
  throw new EncryptionKeyError(`${where} must hold a 32-byte key as 64 hex digits or base64 (got ${t.length} characters)`);
}

/** Reads a key source; throws EncryptionKeyError saying what is wrong with it. */
export function resolveKeySource(source: unknown, what = 'encryption key'): ResolvedKey {
  if (source instanceof Uint8Array) {
    if (source.length !== 32) throw new EncryptionKeyError(`${what} must be 32 bytes for AES-256, got ${source.length}`);
    return { kind: 'raw', key: Buffer.from(source), label: 'raw key' };
  }
  if (typeof source === 'object' && source !== null) {
    const s = source as Record<string, unknown>;
    if (typeof s.file === 'string') {
      let data: Buffer;
      try {
        data = fs.readFileSync(s.file);
      } catch (err) {
        throw new EncryptionKeyError(`cannot read the key file ${s.file}: ${(err as Error).message}`);
      }
      const key = data.length === 32 ? data : parseText(data.toString('utf8'), `key file ${s.file}`);
      return { kind: 'raw', key, label: `key file ${s.file}` };
    }
    if (typeof s.env === 'string') {
      const value = process.env[s.env];
      if (value === undefined || value === '') throw new EncryptionKeyError(`environment variable ${s.env}, named as the ${what}, is not set`);
      return { kind: 'raw', key: parseText(value, `environment variable ${s.env}`), label: `environment variable ${s.env}` };
    }
    if (typeof s.passphrase === 'string') {
      if (s.passphrase.length < 8) throw new EncryptionKeyError(`a passphrase ${what} must be at least 8 characters`);
      return { kind: 'passphrase', passphrase: s.passphrase, label: 'passphrase' };
    }
  }
  throw new EncryptionKeyError(`${what} must be a 32-byte Uint8Array, { file }, { env } or { passphrase }`);
}
