import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createCipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuthenticationFailure, NonceKind, TAG_LENGTH, cipherInUse, makeNonce, open, openInto, seal, sealInSlices } from '../../../src-main/engine/crypto/aead.js';
import { nativeAddon } from '../../../src-main/engine/nativeAddon.js';
import { flipBit, samplePositions } from '../../helpers/data.js';

/** Set in the child run below: every test of this file again, on node:crypto. */
const ON_NODE_CRYPTO = process.env.HINDSIGHT_CIPHER === 'node';

/** AES-256-GCM as node:crypto does it, called here directly: the reference both implementations must match. */
function reference(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  if (aad) cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

test('the addon cipher is in use where the addon is built, node:crypto where HINDSIGHT_CIPHER=node asks for it', () => {
  if (ON_NODE_CRYPTO) {
    assert.equal(cipherInUse(), 'node');
    return;
  }
  // CI builds the addon on Linux, where Node exports OpenSSL: falling back there would be a silent slowdown.
  if (process.platform === 'linux' && nativeAddon()?.aeadAvailable !== undefined) assert.equal(cipherInUse(), 'native');
});

test('sealed bytes are exactly node:crypto\'s, for keys given as bytes or KeyObjects taken in turn, views of shared memory included, and open back', () => {
  const keys = [randomBytes(32), randomBytes(32)];
  for (const size of [0, 1, 15, 16, 17, 3100, 65_536, 65_537, 1024 * 1024 + 5]) {
    for (const [turn, bytes] of [keys[0], keys[1], keys[0]].entries()) {
      const key = bytes as Buffer;
      const nonce = makeNonce(NonceKind.PackBlob, size * 3 + turn);
      // A view at an odd offset of a SharedArrayBuffer, as a file worker's ring hands chunks over.
      const shared = new Uint8Array(new SharedArrayBuffer(size + 7), 7, size);
      shared.set(randomBytes(size));
      const expected = reference(key, nonce, shared, turn === 1 ? Buffer.from('aad') : undefined);
      const sealed = seal(turn === 2 ? createSecretKey(key) : key, nonce, shared, turn === 1 ? Buffer.from('aad') : undefined);
      assert.ok(sealed.equals(expected), `${size} bytes, turn ${turn}: the sealed bytes differ from node:crypto's`);
      assert.ok(open(key, nonce, expected, turn === 1 ? Buffer.from('aad') : undefined).equals(Buffer.from(shared)), `${size} bytes, turn ${turn}: opened wrong`);
    }
  }
});

test('the same tests on node:crypto (HINDSIGHT_CIPHER=node), in a process of their own', { skip: ON_NODE_CRYPTO }, () => {
  const result = spawnSync(process.execPath, ['--test', fileURLToPath(import.meta.url)], { env: { ...process.env, HINDSIGHT_CIPHER: 'node' }, encoding: 'utf8' });
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
});

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

test('sealInSlices puts exactly what seal returns, in order: in slices of at most 64 KiB from node:crypto, in one from the addon', () => {
  const key = randomBytes(32);
  for (const size of [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 1024 * 1024 + 3]) {
    const plaintext = randomBytes(size);
    const nonce = makeNonce(NonceKind.PackBlob, size);
    const slices: Buffer[] = [];
    const written = sealInSlices(key, nonce, plaintext, (bytes) => slices.push(Buffer.from(bytes)));
    assert.equal(written, size + TAG_LENGTH);
    assert.ok(slices.every((slice) => slice.length > 0 && slice.length <= (cipherInUse() === 'node' ? 64 * 1024 : size + TAG_LENGTH)));
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
