import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Decompressor } from 'zstd-napi';
import { SlotCompressor } from '../../../src-main/engine/repository/blobCodec.js';

const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i}: the quick brown fox ${i % 17}\n`).join(''));

test('a slot compressor writes the stored form at the start of the slot: compressed when that saves 3%, else the plaintext', () => {
  const compressor = new SlotCompressor(3);
  const slot = Buffer.alloc(text.length + 16, 0xee);
  const packed = compressor.prepareInto(text, slot);
  assert.equal(packed.compressed, true);
  assert.equal(packed.body.buffer, slot.buffer);
  assert.equal(packed.body.byteOffset, slot.byteOffset);
  assert.ok(packed.body.byteLength < text.length / 4, `${packed.body.byteLength} bytes`);
  assert.deepEqual(new Decompressor().decompress(packed.body), text);
  assert.equal(slot[text.length], 0xee, 'nothing written past the plaintext length');

  const noise = randomBytes(100_000);
  const raw = compressor.prepareInto(noise, Buffer.alloc(noise.length));
  assert.equal(raw.compressed, false);
  assert.deepEqual(Buffer.from(raw.body), noise);

  // Mostly noise with a little text: zstd saves something, less than 3%, so it is stored raw.
  const slight = Buffer.concat([randomBytes(98_000), text.subarray(0, 2_000)]);
  const slightSlot = Buffer.alloc(slight.length);
  assert.equal(compressor.prepareInto(slight, slightSlot).compressed, false);
  assert.deepEqual(slightSlot, slight);

  assert.equal(new SlotCompressor(0).prepareInto(text, Buffer.alloc(text.length)).compressed, false);
  assert.equal(compressor.prepareInto(Buffer.alloc(0), Buffer.alloc(0)).body.byteLength, 0);
});
