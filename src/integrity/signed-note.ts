/**
 * C2SP signed-note with Ed25519 (https://c2sp.org/signed-note): the key ID is the first 4 bytes of
 * SHA-256(key name || 0x0A || 0x01 || 32-byte public key); a signature line is
 * "— <key name> <base64(key ID || 64-byte signature)>\n" (U+2014 EM DASH, then a space); the
 * signed message is the note text, which ends in a newline, and a blank line separates it from the
 * signature lines. The verifier key is written "<name>+<8 hex digits of key ID>+<base64(0x01 ||
 * public key)>".
 *
 * Invariant: a note verifies only with a signature line whose key name and key ID both match the
 * verifier key and whose signature is valid over the exact note text; other lines are ignored, as
 * the spec allows for notes co-signed by unknown keys.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ValidationError } from '../errors.js';

const ALG_ED25519 = 0x01;
const DASH = '\u2014 ';

/** A verifier: what checks a note's signature. */
export interface NoteVerifier {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
  key: KeyObject;
}

/** A key name may not be empty and may not contain spaces, pluses or newlines (signed-note rules). */
export function checkKeyName(name: string): string {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new ValidationError(`key name ${JSON.stringify(name)} must be non-empty with no whitespace or '+' (C2SP signed-note)`);
  }
  return name;
}

/** The 4-byte signed-note key ID of an Ed25519 public key. */
export function keyIdOf(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, ALG_ED25519])).update(publicKey).digest().subarray(0, 4);
}

/** The raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new ValidationError('the signing key is not an Ed25519 key; give an Ed25519 private key in PKCS#8 PEM');
  return Buffer.from(jwk.x, 'base64url');
}

/** An Ed25519 KeyObject for a raw 32-byte public key. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new ValidationError(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** Loads a PKCS#8 PEM Ed25519 private key, with a clear error otherwise. */
export function loadPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new ValidationError(`integrity.signingKey is not a readable PEM private key (${(err as Error).message}); give an Ed25519 key in PKCS#8 PEM, as written by \`openssl genpkey -algorithm ed25519\``);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ValidationError(`integrity.signingKey is a ${key.asymmetricKeyType} key; checkpoints are signed with Ed25519, so give an Ed25519 key in PKCS#8 PEM`);
  }
  return key;
}

/** The verifier key text "<name>+<hex key ID>+<base64(0x01 || public key)>". */
export function vkeyOf(name: string, publicKey: Uint8Array): string {
  return `${name}+${keyIdOf(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]).toString('base64')}`;
}

/** Parses a verifier key, checking that its key ID matches its name and key. */
export function parseVkey(vkey: string): NoteVerifier {
  if (typeof vkey !== 'string') throw new ValidationError('a verifier key (vkey) is required: the text <name>+<8 hex digits>+<base64 key> that checkpointPublicKey().vkey returns');
  // base64 may itself contain '+': only the first two separate fields.
  const a = vkey.indexOf('+');
  const b = a < 0 ? -1 : vkey.indexOf('+', a + 1);
  if (b < 0) throw new ValidationError('a verifier key has the form <name>+<8 hex digits>+<base64 key>; check that it was copied whole');
  const name = vkey.slice(0, a);
  const hex = vkey.slice(a + 1, b);
  const b64 = vkey.slice(b + 1);
  checkKeyName(name);
  const raw = Buffer.from(b64, 'base64');
  if (!/^[0-9a-f]{8}$/.test(hex) || raw.length !== 33 || raw.toString('base64') !== b64 || raw[0] !== ALG_ED25519) {
    throw new ValidationError('the verifier key is malformed: it needs 8 lowercase hex digits of key ID and a base64 Ed25519 key (33 bytes starting 0x01)');
  }
  const publicKey = raw.subarray(1);
  const keyId = keyIdOf(name, publicKey);
  if (keyId.toString('hex') !== hex) throw new ValidationError(`the verifier key's ID ${hex} does not match its name and key (expected ${keyId.toString('hex')}); it was altered or mistyped`);
  return { name, keyId, publicKey, key: publicKeyFromRaw(publicKey) };
}

/** Signs `text` (which must end in a newline) and returns the whole signed note. */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  if (!text.endsWith('\n')) throw new ValidationError('note text must end with a newline');
  const publicKey = rawPublicKey(privateKey);
  const sig = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${DASH}${name} ${Buffer.concat([keyIdOf(name, publicKey), sig]).toString('base64')}\n`;
}

/** Splits a signed note into its text and signature lines; undefined when it is not a signed note. */
export function splitNote(note: string): { text: string; signatures: string[] } | undefined {
  const at = note.lastIndexOf('\n\n');
  if (at < 0 || !note.endsWith('\n')) return undefined;
  const text = note.slice(0, at + 1);
  const signatures = note.slice(at + 2, -1).split('\n');
  if (signatures.length === 0 || signatures.some((l) => !l.startsWith(DASH))) return undefined;
  return { text, signatures };
}

/** The note text when one of its signatures is by `verifier` and valid; undefined otherwise. */
export function openNote(note: string, verifier: NoteVerifier): string | undefined {
  const parts = splitNote(note);
  if (parts === undefined) return undefined;
  for (const line of parts.signatures) {
    const rest = line.slice(DASH.length);
    const sp = rest.lastIndexOf(' ');
    if (sp < 0 || rest.slice(0, sp) !== verifier.name) continue;
    const blob = Buffer.from(rest.slice(sp + 1), 'base64');
    if (blob.length !== 68 || !blob.subarray(0, 4).equals(verifier.keyId)) continue;
    if (verify(null, Buffer.from(parts.text, 'utf8'), verifier.key, blob.subarray(4))) return parts.text;
  }
  return undefined;
}
