import { Blake3Hasher } from '@napi-rs/blake-hash';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { computeBlobId } from '../../../src-main/engine/crypto/blobId.js';

test('blob ids from the reused hasher are those of a fresh keyed BLAKE3, whatever came before and under whichever key', () => {
  const keys = [randomBytes(32), randomBytes(32)];
  // Sizes across BLAKE3's 1 KiB chunk and 64-byte block boundaries, and empty.
  const sizes = [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096, 100_000, 1 << 20];
  for (let round = 0; round < 3; round++) {
    for (const size of sizes) {
      const key = keys[(round + size) % 2] as Buffer;
      const data = randomBytes(size);
      const fresh = Blake3Hasher.newKeyed(key).update(data).digestBuffer();
      assert.deepEqual(computeBlobId(key, data), fresh, `${size} bytes, round ${round}`);
      // A view into a larger buffer hashes only its own bytes.
      const padded = Buffer.concat([randomBytes(7), data, randomBytes(5)]);
      assert.deepEqual(computeBlobId(key, new Uint8Array(padded.buffer, padded.byteOffset + 7, size)), fresh);
    }
  }
  // The key given is what counts, also after a caller changes its own copy of the last key.
  const key = Buffer.from(keys[0] as Buffer);
  const before = computeBlobId(key, Buffer.from('x'));
  key[0] = (key[0] as number) ^ 1;
  assert.notDeepEqual(computeBlobId(key, Buffer.from('x')), before);
  assert.deepEqual(computeBlobId(key, Buffer.from('x')), Blake3Hasher.newKeyed(key).update(Buffer.from('x')).digestBuffer());
});
