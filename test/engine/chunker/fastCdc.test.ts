import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Chunker, type ChunkerParams } from '../../../src-main/engine/chunker/fastCdc.js';
import { gearTable } from '../../../src-main/engine/chunker/gearTable.js';
import { seededBytes } from '../../helpers/data.js';

const MiB = 1024 * 1024;
const DEFAULTS: ChunkerParams = { minSize: 512 * 1024, avgSize: MiB, maxSize: 8 * MiB };
const SMALL: ChunkerParams = { minSize: 256, avgSize: 1024, maxSize: 4096 };

const seed = (name: string): Buffer => createHash('sha256').update(name).digest();

/** Chunk lengths of `data` fed in blocks of `blockSize(i)` bytes (the whole input at once by default). */
function chunkLengths(gear: Uint32Array, params: ChunkerParams, data: Buffer, blockSize: (i: number) => number = () => data.length): number[] {
  const chunker = new Chunker(gear, params);
  const lengths: number[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = Math.max(1, blockSize(i));
    lengths.push(...chunker.push(data.subarray(at, at + size)));
    at += size;
  }
  const last = chunker.finish();
  if (last > 0) lengths.push(last);
  return lengths;
}

function chunkDigests(data: Buffer, lengths: number[]): string[] {
  let at = 0;
  return lengths.map((length) => createHash('sha256').update(data.subarray(at, (at += length))).digest('hex'));
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/**
 * The chunking rule restated byte by byte, with the hash recomputed from the
 * bytes in its window at every candidate: slow, but with no phases, no
 * streaming state and no hashing shortcut to get wrong.
 */
function referenceLengths(gear: Uint32Array, { minSize, avgSize, maxSize }: ChunkerParams, data: Buffer): number[] {
  const bits = Math.round(Math.log2(avgSize));
  const maskS = -1 << (32 - Math.min(32, bits + 1));
  const maskL = -1 << (32 - Math.max(1, bits - 1));
  const lengths: number[] = [];
  for (let start = 0; start < data.length; ) {
    let length = data.length - start;
    for (let n = minSize; n <= Math.min(maxSize, data.length - start); n++) {
      let hash = 0;
      for (let j = Math.max(start, start + n - 32); j < start + n; j++) hash = ((hash << 1) + (gear[data[j] as number] as number)) | 0;
      if (n === maxSize || (hash & (n < avgSize ? maskS : maskL)) === 0) {
        length = n;
        break;
      }
    }
    lengths.push(length);
    start += length;
  }
  return lengths;
}

test('the same seed and input give the same boundaries; another seed gives others', () => {
  const data = seededBytes('deterministic', 20 * MiB);
  const lengths = chunkLengths(gearTable(seed('one')), DEFAULTS, data);
  assert.ok(lengths.length > 5);
  assert.deepEqual(chunkLengths(gearTable(seed('one')), DEFAULTS, data), lengths);
  assert.notDeepEqual(chunkLengths(gearTable(seed('two')), DEFAULTS, data), lengths);
  assert.notDeepEqual(gearTable(seed('one')), gearTable(seed('two')));
  assert.throws(() => gearTable(Buffer.alloc(16)), RangeError);
});

test('chunks stay within min and max except the last, and add up to the input', () => {
  const gear = gearTable(seed('bounds'));
  for (const [params, size] of [
    [DEFAULTS, 40 * MiB],
    [SMALL, 300_000],
  ] as const) {
    const data = seededBytes('bounds', size);
    const lengths = chunkLengths(gear, params, data);
    assert.equal(sum(lengths), data.length);
    for (const length of lengths.slice(0, -1)) assert.ok(length >= params.minSize && length <= params.maxSize, `chunk of ${length}`);
    assert.ok((lengths.at(-1) as number) <= params.maxSize);
  }
  const chunker = new Chunker(gear, DEFAULTS);
  assert.deepEqual(chunker.push(Buffer.alloc(0)), []);
  assert.equal(chunker.finish(), 0);
  assert.deepEqual(chunkLengths(gear, DEFAULTS, Buffer.alloc(0)), []);
});

test('the streaming chunker agrees with a byte-by-byte restatement of the rule', () => {
  const gear = gearTable(seed('reference'));
  const data = seededBytes('reference', 200_000);
  for (const params of [SMALL, { minSize: 1, avgSize: 64, maxSize: 300 }, { minSize: 20, avgSize: 20, maxSize: 100 }, { minSize: 100, avgSize: 512, maxSize: 512 }]) {
    assert.deepEqual(chunkLengths(gear, params, data, (i) => 1 + ((i * 7919) % 1000)), referenceLengths(gear, params, data), JSON.stringify(params));
  }
});

test('how the input is split into blocks does not change the boundaries', () => {
  const gear = gearTable(seed('blocks'));
  const small = seededBytes('small', 100_000);
  const expectedSmall = chunkLengths(gear, SMALL, small);
  assert.deepEqual(chunkLengths(gear, SMALL, small, () => 1), expectedSmall);
  assert.deepEqual(chunkLengths(gear, SMALL, small, (i) => (i * 7919) % 3000), expectedSmall);
  const large = seededBytes('large', 24 * MiB);
  const expected = chunkLengths(gear, DEFAULTS, large);
  assert.ok(expected.length > 5);
  for (const blockSize of [() => 4096, () => MiB, (i: number) => 1 + ((i * 104_729) % (3 * MiB))]) {
    assert.deepEqual(chunkLengths(gear, DEFAULTS, large, blockSize), expected);
  }
});

test('normalized chunking keeps the average chunk near the target', () => {
  const size = 50 * MiB;
  const lengths = chunkLengths(gearTable(seed('average')), DEFAULTS, seededBytes('average', size));
  const average = size / lengths.length;
  assert.ok(average >= 0.75 * MiB && average <= 1.5 * MiB, `average chunk of ${(average / MiB).toFixed(2)} MiB`);
});

test('boundaries re-synchronise after an insertion or a deletion in the middle', () => {
  const gear = gearTable(seed('resync'));
  const original = seededBytes('resync', 50 * MiB);
  const known = new Set(chunkDigests(original, chunkLengths(gear, DEFAULTS, original)));
  const middle = 25 * MiB + 12345;
  const edits = {
    insertion: Buffer.concat([original.subarray(0, middle), seededBytes('inserted', 100), original.subarray(middle)]),
    deletion: Buffer.concat([original.subarray(0, middle), original.subarray(middle + 1000)]),
  };
  for (const [edit, modified] of Object.entries(edits)) {
    const fresh = chunkDigests(modified, chunkLengths(gear, DEFAULTS, modified)).filter((digest) => !known.has(digest));
    assert.ok(fresh.length >= 1 && fresh.length <= 3, `${edit}: ${fresh.length} new chunks`);
  }
});

test('data without content to cut on (all zeros) is cut at the maximum size', () => {
  const lengths = chunkLengths(gearTable(seed('zeros')), DEFAULTS, Buffer.alloc(20 * MiB));
  assert.deepEqual(lengths, [8 * MiB, 8 * MiB, 4 * MiB]);
});

/** Random data broken by runs of zeros of every awkward length: shorter than the hash window, around a skipped piece, longer than a chunk. */
function withZeroRuns(name: string, runs: readonly number[]): Buffer {
  const parts: Buffer[] = [];
  for (const [i, run] of runs.entries()) {
    parts.push(seededBytes(`${name} ${i}`, 1 + ((i * 7919) % 3000)), Buffer.alloc(run));
  }
  return Buffer.concat(parts);
}

test('runs of zeros, which the chunker skips instead of hashing, are cut exactly where the byte-by-byte rule cuts them', () => {
  const runs = [1, 31, 32, 33, 255, 256, 257, 1000, 4095, 4096, 4097, 9000, 40_000, 70_000, 131_072, 200_001];
  const data = withZeroRuns('zero runs', runs);
  const gear = gearTable(seed('zero runs'));
  // The hash of a run of zeros settles at -gear[0]: set gear[0] so that it is a cut in neither phase (the
  // derived table, almost surely), in the long phase only (0x00400000 has its top 9 bits clear, not its top
  // 11), or in both (0).
  const gears = [gear, Uint32Array.from(gear, (word, i) => (i === 0 ? 2 ** 32 - 0x0040_0000 : word)), Uint32Array.from(gear, (word, i) => (i === 0 ? 0 : word))];
  for (const [g, table] of gears.entries()) {
    for (const params of [SMALL, { minSize: 2048, avgSize: 8192, maxSize: 65_536 }, { minSize: 64, avgSize: 64, maxSize: 100_000 }]) {
      const expected = referenceLengths(table, params, data);
      assert.deepEqual(chunkLengths(table, params, data), expected, `gear ${g}, ${JSON.stringify(params)}`);
      assert.deepEqual(chunkLengths(table, params, data, (i) => 1 + ((i * 104_729) % 50_000)), expected, `gear ${g}, ${JSON.stringify(params)}, in blocks`);
    }
  }
});

test('a long run of zeros inside data is cut as the byte-by-byte rule cuts it, with the default sizes', () => {
  const gear = gearTable(seed('long zeros'));
  const data = Buffer.concat([seededBytes('before', MiB + 17), Buffer.alloc(17 * MiB + 5), seededBytes('after', MiB)]);
  const expected = referenceLengths(gear, DEFAULTS, data);
  assert.deepEqual(chunkLengths(gear, DEFAULTS, data, () => 4 * MiB), expected);
  assert.deepEqual(chunkLengths(gear, DEFAULTS, data, (i) => 1 + ((i * 104_729) % (3 * MiB))), expected);
  // Zeros between the chunk that ends the data and the one that starts it again go as whole 8 MiB chunks.
  const zeroDigest = createHash('sha256').update(Buffer.alloc(8 * MiB)).digest('hex');
  assert.ok(chunkDigests(data, expected).includes(zeroDigest));
});
