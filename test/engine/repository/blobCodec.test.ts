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

test('a small blob gets a slot with room for any frame, where an incompressible one is stored raw without zstd failing; a large one a slot of its own length', () => {
  const compressor = new SlotCompressor(3);
  const noise = randomBytes(100_000);
  assert.ok(compressor.slotLength(noise.length) > noise.length, 'room for zstd to finish an incompressible frame');
  assert.equal(compressor.slotLength(4 * 1024 * 1024), 4 * 1024 * 1024);
  assert.equal(new SlotCompressor(0).slotLength(1000), 1000, 'no compression, no room needed');
  for (const [plaintext, compressed] of [
    [noise, false],
    [Buffer.concat([randomBytes(98_000), text.subarray(0, 2_000)]), false],
    [text, true],
  ] as const) {
    const slot = Buffer.alloc(compressor.slotLength(plaintext.length), 0xee);
    const prepared = compressor.prepareInto(plaintext, slot);
    assert.equal(prepared.compressed, compressed);
    assert.equal(prepared.body.byteOffset, slot.byteOffset);
    assert.deepEqual(compressed ? new Decompressor().decompress(prepared.body) : Buffer.from(prepared.body), plaintext);
  }
});
