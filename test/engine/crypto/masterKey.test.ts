import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { computeBlobId } from '../../../src-main/engine/crypto/blobId.js';
import { MasterKey } from '../../../src-main/engine/crypto/masterKey.js';
import { DEFAULT_ARGON2, deriveKeyFromPassword } from '../../../src-main/engine/crypto/passwordKey.js';

test('subkeys are deterministic for one master key and distinct across purposes and packs', () => {
  const secret = randomBytes(32);
  const a = new MasterKey(secret);
  const b = new MasterKey(secret);
  const packId = randomBytes(32);
  assert.deepEqual(a.packKey(packId).export(), b.packKey(packId).export());
  assert.deepEqual(a.blobIdKey, b.blobIdKey);
  const keys = [a.blobIdKey, a.chunkerSeed, a.packKey(packId).export(), a.packKey(randomBytes(32)).export(), a.objectKey(randomBytes(32)), secret];
  assert.equal(new Set(keys.map((k) => k.toString('hex'))).size, keys.length);
  assert.notDeepEqual(MasterKey.generate().blobIdKey, a.blobIdKey);
});

test('blob ids are keyed: same data, different repository key, different id', () => {
  const data = Buffer.from('the same file in two repositories');
  const one = MasterKey.generate();
  const two = MasterKey.generate();
  assert.deepEqual(computeBlobId(one.blobIdKey, data), computeBlobId(one.blobIdKey, data));
  assert.notDeepEqual(computeBlobId(one.blobIdKey, data), computeBlobId(two.blobIdKey, data));
  assert.equal(computeBlobId(one.blobIdKey, data).length, 32);
  assert.throws(() => computeBlobId(Buffer.alloc(31), data), RangeError);
});

test('BLAKE3 keyed hash matches the official test vector for empty input', () => {
  // From the BLAKE3 test_vectors.json: key "whats the Elvish word for friend", input length 0.
  const key = Buffer.from('whats the Elvish word for friend');
  assert.equal(computeBlobId(key, Buffer.alloc(0)).toString('hex'), '92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26');
});

test('Argon2id with the default parameters depends on password and salt', async () => {
  const salt = randomBytes(32);
  const one = await deriveKeyFromPassword('hunter2', salt, DEFAULT_ARGON2);
  assert.equal(one.length, 32);
  assert.deepEqual(await deriveKeyFromPassword('hunter2', salt, DEFAULT_ARGON2), one);
  assert.notDeepEqual(await deriveKeyFromPassword('hunter3', salt, DEFAULT_ARGON2), one);
  assert.notDeepEqual(await deriveKeyFromPassword('hunter2', randomBytes(32), DEFAULT_ARGON2), one);
  // Composed and decomposed forms of "é" are the same password.
  assert.deepEqual(await deriveKeyFromPassword('caf\u00e9', salt, DEFAULT_ARGON2), await deriveKeyFromPassword('cafe\u0301', salt, DEFAULT_ARGON2));
});
