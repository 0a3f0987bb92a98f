import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryIndex } from '../../../src-main/engine/repository/memoryIndex.js';
import type { PackedBlob } from '../../../src-main/engine/repository/packFormat.js';

function blobsFor(count: number, seedOffset = 0): PackedBlob[] {
  const ids = randomBytes(count * 32);
  return Array.from({ length: count }, (_, i) => ({
    id: ids.subarray(i * 32, i * 32 + 32),
    type: i % 5 === 0 ? 'tree' : 'data',
    compressed: i % 2 === 0,
    offset: (i + seedOffset) * 100,
    length: 100,
    rawLength: 90 + (i % 10),
  }));
}

test('lookups return exactly what was added, and unknown ids are absent', () => {
  const index = new MemoryIndex();
  const packA = randomBytes(32);
  const packB = randomBytes(32);
  const a = blobsFor(3000);
  const b = blobsFor(2000, 7);
  index.addPack(packA, 300_000, a);
  index.addPack(packB, 200_000, b);
  assert.equal(index.size, 5000);
  assert.equal(index.packCount, 2);
  for (const [pack, blobs] of [[packA, a], [packB, b]] as const) {
    for (const blob of blobs) {
      const found = index.get(blob.id);
      assert.ok(found);
      assert.equal(found.pack, pack.toString('hex'));
      assert.deepEqual({ ...found, pack: undefined }, { ...blob, id: Buffer.from(blob.id), pack: undefined });
    }
  }
  for (let i = 0; i < 1000; i++) assert.equal(index.has(randomBytes(32)), false);
  assert.equal(index.has(Buffer.alloc(5)), false);
  // Entry numbers: each blob its own, 0 to size - 1, in the order added; -1 for one not indexed.
  assert.deepEqual([...a, ...b].map((blob) => index.entryOf(blob.id)), Array.from({ length: 5000 }, (_, i) => i));
  assert.equal(index.entryOf(randomBytes(32)), -1);
  // Entries by pack, and each entry's location, as added.
  index.addPack(randomBytes(32), 0, []);
  const byPack = index.entriesByPack();
  assert.deepEqual([...byPack.keys()], [packA.toString('hex'), packB.toString('hex')], 'a pack without blobs is left out');
  for (const [pack, blobs] of [[packA, a], [packB, b]] as const) {
    const entries = byPack.get(pack.toString('hex'));
    assert.deepEqual(entries && [...entries].map((entry) => index.location(entry)), blobs.map((blob) => ({ ...blob, id: Buffer.from(blob.id), pack: pack.toString('hex') })));
    assert.deepEqual(entries && [...entries].map((entry) => index.lengthOf(entry)), blobs.map((blob) => blob.length));
    // Each field alone, as the location has it.
    for (const entry of entries ?? []) {
      const location = index.location(entry);
      assert.equal(index.packName(index.packNumberOf(entry)), location.pack);
      assert.deepEqual([index.offsetOf(entry), index.rawLengthOf(entry), index.isCompressed(entry)], [location.offset, location.rawLength, location.compressed]);
      const copy = new Uint8Array(40);
      index.copyId(entry, copy, 5);
      assert.deepEqual(Buffer.from(copy.subarray(5, 37)), location.id);
      assert.ok(index.idEquals(entry, location.id));
      assert.equal(index.idEquals(entry, randomBytes(32)), false);
      assert.equal(index.idEquals(entry, location.id.subarray(0, 31)), false);
    }
  }
});

test('a blob seen again in another pack keeps its first location', () => {
  const index = new MemoryIndex();
  const [blob] = blobsFor(1);
  assert.ok(blob);
  index.addPack(Buffer.alloc(32, 1), 100, [blob]);
  index.addPack(Buffer.alloc(32, 2), 100, [{ ...blob, offset: 0 }]);
  assert.equal(index.size, 1);
  assert.equal(index.get(blob.id)?.pack, Buffer.alloc(32, 1).toString('hex'));
});

test('a million blobs fit in well under 200 MB', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage();
  const index = new MemoryIndex();
  const perPack = 1000;
  for (let p = 0; p < 1000; p++) index.addPack(randomBytes(32), perPack * 100, blobsFor(perPack));
  gc();
  const after = process.memoryUsage();
  // `external` already includes the typed arrays' buffers.
  const grown = after.heapUsed + after.external - (before.heapUsed + before.external);
  assert.equal(index.size, 1_000_000);
  assert.ok(grown < 100 * 1024 * 1024, `index of 1M blobs grew memory by ${(grown / 1024 / 1024).toFixed(0)} MB`);
  console.log(`# 1M-blob index: ${(grown / 1024 / 1024).toFixed(0)} MB`);
  assert.ok(index.has(index.blobs().next().value?.id ?? Buffer.alloc(32)));
});

test('an index made for the blobs it will hold allocates its arrays once, and still grows past them', () => {
  const blobs = blobsFor(200_000);
  const before = process.memoryUsage().arrayBuffers;
  const sized = new MemoryIndex(blobs.length);
  for (let at = 0; at < blobs.length; at += 1000) sized.addPack(randomBytes(32), 100_000, blobs.slice(at, at + 1000));
  // No collection in between: arrays outgrown by doubling would still be counted here (~2x).
  const allocated = process.memoryUsage().arrayBuffers - before;
  const needed = blobs.length * (32 + 4 * 4 + 1 + 2 * 4);
  assert.ok(allocated < needed * 1.4, `${(allocated / 1e6).toFixed(1)} MB allocated for ${(needed / 1e6).toFixed(1)} MB`);
  // Beyond what it was made for, and from a small start: every blob found where it was put.
  for (const index of [sized, new MemoryIndex(10)]) {
    const more = blobsFor(5000, 3);
    index.addPack(randomBytes(32), 500_000, more);
    for (const blob of more) assert.equal(index.get(blob.id)?.offset, blob.offset);
  }
  for (const blob of blobs.slice(0, 1000)) assert.equal(sized.get(blob.id)?.rawLength, blob.rawLength);
});
