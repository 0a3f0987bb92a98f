import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { NonceKind, makeNonce, openInto, seal } from '../../src-main/engine/crypto/aead.js';
import { YoungGarbage } from '../../src-main/engine/youngGarbage.js';

test('a thread that decrypts 256 MB, counting it with YoungGarbage, never holds more than a few MB of dead buffers', () => {
  const key = randomBytes(32);
  const nonce = makeNonce(NonceKind.PackBlob, 0);
  const plaintext = randomBytes(1024 * 1024);
  const sealed = seal(key, nonce, plaintext);
  const into = new Uint8Array(plaintext.length);
  const garbage = new YoungGarbage();
  const start = process.memoryUsage().arrayBuffers;
  let most = 0;
  for (let i = 0; i < 256; i++) {
    openInto(key, nonce, sealed, into);
    garbage.made(sealed.length);
    most = Math.max(most, process.memoryUsage().arrayBuffers - start);
  }
  assert.ok(Buffer.from(into).equals(plaintext), 'the last blob decrypted wrong');
  // Without the collections V8 let 35 MB and more pile up here (it starts one for buffers at 64 MB).
  assert.ok(most < 8 * 1024 * 1024, `${(most / 1048576).toFixed(1)} MB of buffers held at once`);
});
