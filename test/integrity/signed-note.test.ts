import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { keyIdOf, loadPrivateKey, openNote, parseVkey, rawPublicKey, signNote, vkeyOf } from '../../src/integrity/signed-note.js';
import { formatCheckpoint, parseCheckpoint } from '../../src/integrity/checkpoint-note.js';
import { ValidationError } from '../../src/errors.js';

const { privateKey } = generateKeyPairSync('ed25519');

test('a signed checkpoint has the C2SP layout and its signature checks with node:crypto against the note text', () => {
  const root = createHash('sha256').update('x').digest();
  const body = formatCheckpoint('example.com/log', 42, root);
  const note = signNote(body, 'example.com/log', privateKey);
  const lines = note.split('\n');
  assert.deepEqual(lines.slice(0, 4), ['example.com/log', '42', root.toString('base64'), '']);
  assert.ok(lines[4]!.startsWith('\u2014 example.com/log '));
  assert.equal(lines[5], '');
  const blob = Buffer.from(lines[4]!.split(' ')[2]!, 'base64');
  assert.equal(blob.length, 68);
  const pub = rawPublicKey(privateKey);
  const expectedId = createHash('sha256').update(Buffer.concat([Buffer.from('example.com/log'), Buffer.from([0x0a, 0x01]), pub])).digest().subarray(0, 4);
  assert.deepEqual(blob.subarray(0, 4), expectedId);
  assert.ok(verify(null, Buffer.from(body), privateKey, blob.subarray(4)), 'Ed25519 over the exact note text');
  assert.deepEqual(parseCheckpoint(body), { origin: 'example.com/log', size: 42, rootHash: root });
});

test('a note opens with its vkey and fails after any change to its text or with another key', () => {
  const body = formatCheckpoint('o', 7, Buffer.alloc(32, 1));
  const note = signNote(body, 'k1', privateKey);
  const vkey = vkeyOf('k1', rawPublicKey(privateKey));
  assert.match(vkey, /^k1\+[0-9a-f]{8}\+/);
  const v = parseVkey(vkey);
  assert.deepEqual(v.keyId, keyIdOf('k1', rawPublicKey(privateKey)));
  assert.equal(openNote(note, v), body);
  assert.equal(openNote(note.replace('\n7\n', '\n8\n'), v), undefined);
  const other = generateKeyPairSync('ed25519').privateKey;
  assert.equal(openNote(note, parseVkey(vkeyOf('k1', rawPublicKey(other)))), undefined);
});

test('malformed verifier keys, signing keys and checkpoint bodies are rejected', () => {
  const vkey = vkeyOf('k1', rawPublicKey(privateKey));
  assert.throws(() => parseVkey(vkey.replace('k1+', 'k2+')), ValidationError);
  assert.throws(() => parseVkey('abc'), ValidationError);
  assert.throws(() => loadPrivateKey('not a pem'), ValidationError);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  assert.throws(() => loadPrivateKey(rsa), /Ed25519/);
  assert.equal(parseCheckpoint('o\n007\nAAAA\n'), undefined);
  assert.equal(parseCheckpoint('o\n7\n'), undefined);
});
