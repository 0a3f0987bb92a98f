import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Chunker, type ChunkerParams } from '../../../src-main/engine/chunker/fastCdc.js';
import { gearTable } from '../../../src-main/engine/chunker/gearTable.js';
import { seededBytes } from '../../helpers/data.js';

const MiB = 1024 * 1024;
const DEFAULTS: ChunkerParams = { minSize: 512 * 1024, avgSize: MiB, maxSize: 8 * MiB };
const SMALL: ChunkerParams = { minSize: 64, avgSize: 256, maxSize: 1024 };
const seed = (text: string) => createHash('sha256').update(text).digest();

function chunkLengths(gear: Uint32Array, params: ChunkerParams, data: Buffer, blockSizes: (i: number) => number = () => data.length): number[] {
  const chunker = new Chunker(gear, params);
  const lengths: number[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = Math.max(1, blockSizes(i));
    lengths.push(...chunker.push(data.subarray(at, at + size)));
    at += size;
  }
  const last = chunker.finish();
  if (last > 0) lengths.push(last);
  return lengths;
}

function chunkHashes(data: Buffer, lengths: number[]): string[] {
  let at = 0;
  return lengths.map((length) => {
    const hash = createHash('sha256').update(data.subarray(at, at + length)).digest('hex');
    at += length;
    return hash;
  });
}

test('deterministic for one key, different for another', () => {
  const data = seededBytes('det', 20 * MiB);
  const a = chunkLengths(gearTable(seed('key one')), DEFAULTS, data);
  assert.deepEqual(chunkLengths(gearTable(seed('key one')), DEFAULTS, data), a);
  assert.notDeepEqual(chunkLengths(gearTable(seed('key two')), DEFAULTS, data), a);
  assert.notDeepEqual(gearTable(seed('key one')), gearTable(seed('key two')));
});

test('chunks stay within min and max, and add up to the input', () => {
  const data = seededBytes('bounds', 40 * MiB);
  const lengths = chunkLengths(gearTable(seed('k')), DEFAULTS, data);
  assert.equal(lengths.reduce((a, b) => a + b, 0), data.length);
  for (const length of lengths.slice(0, -1)) assert.ok(length >= DEFAULTS.minSize && length <= DEFAULTS.maxSize, `chunk of ${length}`);
  const chunker = new Chunker(gearTable(seed('k')), DEFAULTS);
  assert.deepEqual(chunker.push(Buffer.alloc(0)), []);
  assert.equal(chunker.finish(), 0);
});

test('the way input is split into blocks does not change the chunks', () => {
  const gear = gearTable(seed('split'));
  const small = seededBytes('small', 50_000);
  const whole = chunkLengths(gear, SMALL, small);
  assert.deepEqual(chunkLengths(gear, SMALL, small, () => 1), whole);
  assert.deepEqual(chunkLengths(gear, SMALL, small, (i) => (i * 7919) % 700), whole);
  const large = seededBytes('large', 24 * MiB);
  const expected = chunkLengths(gear, DEFAULTS, large);
  assert.deepEqual(chunkLengths(gear, DEFAULTS, large, () => 4096), expected);
  assert.deepEqual(chunkLengths(gear, DEFAULTS, large, () => MiB), expected);
  assert.deepEqual(chunkLengths(gear, DEFAULTS, large, (i) => 1 + ((i * 104729) % (3 * MiB))), expected);
});

test('normalized chunking keeps the average near the target', () => {
  const lengths = chunkLengths(gearTable(seed('avg')), DEFAULTS, seededBytes('avg', 64 * MiB));
  const average = (64 * MiB) / lengths.length;
  assert.ok(average > 0.75 * MiB && average < 1.6 * MiB, `average chunk ${(average / MiB).toFixed(2)} MiB`);
});

test('boundaries re-synchronise after an insertion or a deletion in the middle of 50 MiB', () => {
  const gear = gearTable(seed('resync'));
  const original = seededBytes('resync', 50 * MiB);
  const known = new Set(chunkHashes(original, chunkLengths(gear, DEFAULTS, original)));
  const middle = 25 * MiB + 12345;
  const inserted = Buffer.concat([original.subarray(0, middle), seededBytes('insert', 100), original.subarray(middle)]);
  const deleted = Buffer.concat([original.subarray(0, middle), original.subarray(middle + 1000)]);
  for (const [what, modified] of [['insertion', inserted], ['deletion', deleted]] as const) {
    const fresh = chunkHashes(modified, chunkLengths(gear, DEFAULTS, modified)).filter((h) => !known.has(h));
    assert.ok(fresh.length >= 1 && fresh.length <= 3, `${what}: ${fresh.length} new chunks`);
  }
});

test('data without any structure (all zeros) is cut at the maximum size', () => {
  const lengths = chunkLengths(gearTable(seed('zeros')), DEFAULTS, Buffer.alloc(20 * MiB));
  assert.deepEqual(lengths.slice(0, 2), [8 * MiB, 8 * MiB]);
  assert.equal(lengths.reduce((a, b) => a + b, 0), 20 * MiB);
});
