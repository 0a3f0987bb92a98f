import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { AuthenticationFailure, NonceKind, TAG_LENGTH, makeNonce, open, openInto, seal, sealInSlices } from '../../../src-main/engine/crypto/aead.js';
import { flipBit, samplePositions } from '../../helpers/data.js';

test('seal and open round-trip, with and without additional data', () => {
  const key = randomBytes(32);
  for (const size of [0, 1, 15, 16, 17, 4096, 100_000]) {
    const plaintext = randomBytes(size);
    const nonce = makeNonce(NonceKind.PackBlob, size);
    const sealed = seal(key, nonce, plaintext, Buffer.from('aad'));
    assert.equal(sealed.length, size + 16);
    assert.deepEqual(open(key, nonce, sealed, Buffer.from('aad')), plaintext);
  }
});

test('any flipped bit, wrong key, wrong nonce or wrong aad fails authentication', () => {
  const key = randomBytes(32);
  const nonce = makeNonce(NonceKind.Object, 0);
  const sealed = seal(key, nonce, randomBytes(1000), Buffer.from('index'));
  for (const position of samplePositions(sealed.length, 64)) {
    for (const bit of [0, 7]) {
      assert.throws(() => open(key, nonce, flipBit(sealed, position, bit), Buffer.from('index')), AuthenticationFailure);
    }
  }
  assert.throws(() => open(randomBytes(32), nonce, sealed, Buffer.from('index')), AuthenticationFailure);
  assert.throws(() => open(key, makeNonce(NonceKind.Object, 1), sealed, Buffer.from('index')), AuthenticationFailure);
  assert.throws(() => open(key, nonce, sealed, Buffer.from('snapshots')), AuthenticationFailure);
  assert.throws(() => open(key, nonce, sealed.subarray(0, 10)), AuthenticationFailure);
});

test('nonces of different kinds or counters never coincide', () => {
  const seen = new Set<string>();
  for (const kind of Object.values(NonceKind)) {
    for (const counter of [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      const nonce = makeNonce(kind, counter).toString('hex');
      assert.equal(seen.has(nonce), false);
      seen.add(nonce);
    }
  }
  assert.throws(() => makeNonce(NonceKind.PackBlob, -1), RangeError);
});

test('sealInSlices puts exactly what seal returns, in order, in slices of at most 64 KiB', () => {
  const key = randomBytes(32);
  for (const size of [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 1024 * 1024 + 3]) {
    const plaintext = randomBytes(size);
    const nonce = makeNonce(NonceKind.PackBlob, size);
    const slices: Buffer[] = [];
    const written = sealInSlices(key, nonce, plaintext, (bytes) => slices.push(Buffer.from(bytes)));
    assert.equal(written, size + TAG_LENGTH);
    assert.ok(slices.every((slice) => slice.length > 0 && slice.length <= 64 * 1024));
    const sealed = Buffer.concat(slices);
    assert.ok(sealed.equals(seal(key, nonce, plaintext)), `size ${size}`);
    assert.ok(open(key, nonce, sealed).equals(plaintext));
  }
});

test('openInto writes what open returns into the given buffer, across slices, and fails authentication as open does', () => {
  const key = randomBytes(32);
  for (const size of [0, 1, 65_535, 65_536, 65_537, 3 * 65_536 + 17]) {
    const plaintext = randomBytes(size);
    const nonce = makeNonce(NonceKind.PackBlob, size);
    const sealed = seal(key, nonce, plaintext);
    const into = Buffer.alloc(size + 100, 0xaa);
    assert.equal(openInto(key, nonce, sealed, into), size);
    assert.ok(into.subarray(0, size).equals(plaintext), `${size} bytes: the plaintext differs`);
    assert.ok(into.subarray(size).every((byte) => byte === 0xaa), `${size} bytes: written past the plaintext`);
    if (size === 0) continue;
    for (const position of [0, size - 1, size + TAG_LENGTH - 1]) {
      assert.throws(() => openInto(key, nonce, flipBit(sealed, position, 3), into), AuthenticationFailure);
    }
    assert.throws(() => openInto(key, makeNonce(NonceKind.PackBlob, size + 1), sealed, into), AuthenticationFailure);
  }
  assert.throws(() => openInto(key, makeNonce(NonceKind.PackBlob, 0), Buffer.alloc(TAG_LENGTH - 1), Buffer.alloc(16)), AuthenticationFailure);
});
