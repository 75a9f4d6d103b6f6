/**
 * The checkpoint signing key: the configured PKCS#8 PEM, or one generated on first open and kept in
 * the base directory (`integrity-signing-key.pem`, mode 0600), so checkpoints stay verifiable across
 * restarts. A key kept beside the data it vouches for protects against accidents, not against
 * whoever can rewrite the store, hence the health warning (`generated`).
 *
 * Invariant: the key is Ed25519; the key name (origin) obeys signed-note rules.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { IoError } from '../errors.js';
import { formatCheckpoint } from './checkpoint-note.js';
import { writeFileAtomic } from '../io/durable-file.js';
import { keyIdOf, loadPrivateKey, parseVkey, rawPublicKey, signNote, vkeyOf, type NoteVerifier } from './signed-note.js';

/** The file a generated key is kept in, inside the base directory. */
export const KEY_FILE = 'integrity-signing-key.pem';

/** The public half of the checkpoint key, as checkpointPublicKey() returns it. */
export interface CheckpointPublicKey {
  /** The signed-note key name (the log's origin prefix). */
  name: string;
  /** The 4-byte key ID, as 8 hex digits. */
  keyId: string;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Buffer;
  /** The signed-note verifier key `<name>+<hex key ID>+<base64(0x01 || public key)>`. */
  vkey: string;
}

export class CheckpointSigner {
  readonly name: string;
  readonly publicKey: Buffer;
  readonly verifier: NoteVerifier;

  private constructor(
    private readonly key: KeyObject,
    name: string | undefined,
    /** True when the key was generated and lives in the base directory. */
    readonly generated: boolean,
    readonly keyFile: string | undefined,
  ) {
    this.publicKey = rawPublicKey(key);
    this.name = name ?? `redb-audit/${createHash('sha256').update(this.publicKey).digest('hex').slice(0, 8)}`;
    this.verifier = parseVkey(vkeyOf(this.name, this.publicKey));
  }

  /** The configured key, or the base directory's (generated on first use). */
  static open(baseDir: string, pem: string | undefined, origin: string | undefined, readOnly = false): CheckpointSigner {
    if (pem !== undefined) return new CheckpointSigner(loadPrivateKey(pem), origin, false, undefined);
    const file = path.join(baseDir, KEY_FILE);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError('reading the checkpoint signing key', file, err);
      const { privateKey } = generateKeyPairSync('ed25519');
      // A read-only open writes nothing. A store without a key file has signed no checkpoint, so a
      // key that lives only in this process can contradict none; the writer makes the real one.
      if (readOnly) return new CheckpointSigner(privateKey, origin, true, undefined);
      text = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      // Written to a temporary name, fsynced and renamed, so a crash never leaves half a key.
      writeFileAtomic(file, Buffer.from(text, 'utf8'), 0o600);
    }
    return new CheckpointSigner(loadPrivateKey(text), origin, true, file);
  }

  /** The origin line of a tenant's checkpoints. */
  originOf(tenantId: string): string {
    return `${this.name}/${tenantId}`;
  }

  /** A signed checkpoint note for a tenant's tree of `size` leaves with hash `root`. */
  sign(tenantId: string, size: number, root: Uint8Array): string {
    return signNote(formatCheckpoint(this.originOf(tenantId), size, root), this.name, this.key);
  }

  publicInfo(): CheckpointPublicKey {
    return { name: this.name, keyId: keyIdOf(this.name, this.publicKey).toString('hex'), publicKey: Buffer.from(this.publicKey), vkey: vkeyOf(this.name, this.publicKey) };
  }
}
