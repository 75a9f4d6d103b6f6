import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { EncryptionKeyError } from '../../src/errors.js';
import { gcmOpen, gcmSeal } from '../../src/codec/aes-gcm.js';
import { createCompressor } from '../../src/codec/compression.js';
import { KeyRing, keyCheckValue } from '../../src/codec/key-ring.js';
import { resolveKeySource } from '../../src/codec/key-source.js';
import { CodecDecodeError } from '../../src/codec/page-codec.js';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { tmpDir } from '../support/tmp.js';

const text = Buffer.from(JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i, action: 'login', outcome: 'success' }))));

test('zstd and lz4 round-trip and shrink repetitive payloads; incompressible ones stay raw', () => {
  for (const kind of ['zstd', 'lz4'] as const) {
    const c = createCompressor(kind, 3)!;
    const packed = c.compress(text)!;
    assert.ok(packed.length < text.length / 3, `${kind} ${packed.length}/${text.length}`);
    assert.deepEqual(Buffer.from(c.decompress(packed, text.length)), text);
    assert.equal(c.compress(crypto.randomBytes(4096)), null);
    assert.throws(() => c.decompress(packed, text.length + 1), CodecDecodeError);
  }
});

test('AES-GCM opens what it sealed and refuses a flipped byte or different authenticated data', () => {
  const key = crypto.randomBytes(32);
  const aad = Buffer.from('block at 8192');
  const sealed = gcmSeal(key, text, aad);
  assert.deepEqual(Buffer.from(gcmOpen(key, sealed, aad)), text);
  assert.ok(!Buffer.from(sealed).includes(Buffer.from('login')));
  const tampered = Uint8Array.from(sealed);
  tampered[20]! ^= 1;
  assert.throws(() => gcmOpen(key, tampered, aad), /failed authentication/);
  assert.throws(() => gcmOpen(key, sealed, Buffer.from('block at 8256')), /failed authentication/);
  assert.throws(() => gcmOpen(crypto.randomBytes(32), sealed, aad), /failed authentication/);
  // Two seals of the same data differ: every write gets its own nonce.
  assert.notDeepEqual(Buffer.from(gcmSeal(key, text, aad)), Buffer.from(sealed));
});

test('the store codec compresses then encrypts, and reads units written under older keys', () => {
  const k1 = resolveKeySource(crypto.randomBytes(32));
  const ring = KeyRing.create(k1);
  const codec = new StoreCodec('zstd', 3, ring);
  const aad = Buffer.from('x');
  const unit = codec.compress(text);
  const first = codec.seal(unit, aad);
  assert.equal(first.keyId, 1);
  assert.equal(first.stored.length, codec.planSeal(unit).storedLength);
  ring.add(resolveKeySource(crypto.randomBytes(32)));
  const second = codec.seal(codec.compress(text), aad);
  assert.equal(second.keyId, 2);
  for (const s of [first, second]) assert.deepEqual(Buffer.from(codec.open(s.flags, s.keyId, s.stored, text.length, aad)), text);
  assert.throws(() => codec.open(first.flags, 9, first.stored, text.length, aad), EncryptionKeyError);
  // A plaintext unit in an encrypted store is refused rather than trusted.
  assert.throws(() => codec.open(0, 0, text, text.length, aad), /unencrypted unit/);
});

test('a key ring refuses a wrong key and a missing older key, and accepts the right ones from any source', (t) => {
  const dir = tmpDir(t, 'keys');
  const raw = crypto.randomBytes(32);
  const ring = KeyRing.create(resolveKeySource(raw));
  ring.add(resolveKeySource({ passphrase: 'correct horse battery staple' }));
  const stored = ring.entries;
  const file = path.join(dir, 'key');
  fs.writeFileSync(file, raw.toString('hex'));
  process.env.REDB_TEST_KEY = raw.toString('base64');
  const passphrase = resolveKeySource({ passphrase: 'correct horse battery staple' });
  for (const old of [{ file }, { env: 'REDB_TEST_KEY' }, raw]) {
    const opened = KeyRing.open(stored, passphrase, [resolveKeySource(old)]);
    assert.equal(opened.currentId, 2);
    assert.deepEqual(keyCheckValue(opened.key(1)!), stored[0]!.kcv);
  }
  assert.throws(() => KeyRing.open(stored, resolveKeySource(crypto.randomBytes(32)), [resolveKeySource(raw)]), (e: unknown) => e instanceof EncryptionKeyError && /not a key of this store/.test(e.message));
  assert.throws(() => KeyRing.open(stored, passphrase, []), /key id 1 unmatched/);
  assert.throws(() => resolveKeySource(new Uint8Array(16)), /32 bytes/);
  assert.throws(() => resolveKeySource({ env: 'REDB_TEST_MISSING_KEY' }), /is not set/);
  assert.throws(() => resolveKeySource({ passphrase: 'short' }), /at least 8/);
});
