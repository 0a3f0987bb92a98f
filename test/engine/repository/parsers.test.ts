import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { FUZZ_CASES, expectTypedOutcome, prng } from '../../helpers/fuzz.js';
import { MasterKey } from '../../../src-main/engine/crypto/masterKey.js';
import { openConfig } from '../../../src-main/engine/repository/config.js';
import { decodeIndexFile, encodeIndexFile, forEachIndexedPack } from '../../../src-main/engine/repository/indexFile.js';
import { parseKeyFile } from '../../../src-main/engine/repository/keyFile.js';
import { MemoryIndex } from '../../../src-main/engine/repository/memoryIndex.js';
import { FormatViolation, decodePackHeader, encodePackHeader, type PackedBlob } from '../../../src-main/engine/repository/packFormat.js';
import { openObject } from '../../../src-main/engine/repository/sealedObject.js';

const blobs: PackedBlob[] = [0, 1, 2].map((i) => ({ id: prng(`id${i}`, 32), type: 'data', compressed: false, offset: i * 116, length: 116, rawLength: 100 }));
const validHeader = encodePackHeader(blobs);
const validIndex = encodeIndexFile({ supersedes: [prng('s', 32)], packs: [{ id: prng('p', 32), size: 400, blobs }] });

test('valid headers and indexes decode to what was encoded', () => {
  assert.deepEqual(decodePackHeader(validHeader, 348), blobs);
  const index = decodeIndexFile(validIndex);
  assert.deepEqual(index.packs[0]?.blobs, blobs);
  assert.equal(index.supersedes.length, 1);
});

test('random and mutated pack headers, indexes, key files and objects only ever yield typed errors', () => {
  const master = MasterKey.generate();
  for (let i = 0; i < FUZZ_CASES; i++) {
    const random = prng(`r${i}`, i % 300);
    const mutated = Buffer.from(i % 2 === 0 ? validHeader : validIndex);
    const r = prng(`m${i}`, 8);
    mutated[(r.readUInt32LE(0) % mutated.length) as number] = r[4] as number;
    const truncated = (i % 2 === 0 ? validHeader : validIndex).subarray(0, r.readUInt16LE(5) % validIndex.length);
    for (const input of [random, mutated, truncated]) {
      expectTypedOutcome(() => decodePackHeader(input, 348));
      expectTypedOutcome(() => decodeIndexFile(input));
      expectTypedOutcome(() => openObject(master, 'index', input, 'test object'));
      expectTypedOutcome(() => openConfig(master, input));
      expectTypedOutcome(() => parseKeyFile(createHash('sha256').update(input).digest('hex'), input));
    }
  }
});

/** The index an index file gives read in place (as reloadIndex reads it), or the error that stopped it. */
function readInPlace(data: Buffer): MemoryIndex | Error {
  const index = new MemoryIndex();
  try {
    forEachIndexedPack(data, (pack) => index.addEntries(data, pack));
    return index;
  } catch (err) {
    return err as Error;
  }
}

/** The same from decodeIndexFile's objects, through addPack. */
function readDecoded(data: Buffer): MemoryIndex | Error {
  const index = new MemoryIndex();
  try {
    for (const pack of decodeIndexFile(data).packs) index.addPack(pack.id, pack.size, pack.blobs);
    return index;
  } catch (err) {
    return err as Error;
  }
}

test('an index file read in place gives what its decoded objects give, and fails where and as decoding fails', () => {
  const twoPacks = encodeIndexFile({
    supersedes: [],
    packs: [
      { id: prng('p1', 32), size: 400, blobs },
      // The second pack repeats a blob of the first (it keeps its first place) and holds a compressed tree.
      { id: prng('p2', 32), size: 300, blobs: [blobs[1] as PackedBlob, { id: prng('tree', 32), type: 'tree', compressed: true, offset: 116, length: 60, rawLength: 200 }] },
    ],
  });
  const inPlace = readInPlace(twoPacks);
  assert.ok(inPlace instanceof MemoryIndex);
  assert.equal(inPlace.size, 4);
  assert.deepEqual([...inPlace.blobs()], [...(readDecoded(twoPacks) as MemoryIndex).blobs()]);
  assert.deepEqual([...inPlace.packs()], [...(readDecoded(twoPacks) as MemoryIndex).packs()]);
  for (let i = 0; i < FUZZ_CASES; i++) {
    const r = prng(`ip${i}`, 8);
    const mutated = Buffer.from(twoPacks);
    mutated[r.readUInt32LE(0) % mutated.length] = r[4] as number;
    for (const input of [mutated, twoPacks.subarray(0, r.readUInt16LE(5) % twoPacks.length), prng(`ir${i}`, i % 300)]) {
      const [a, b] = [readInPlace(input), readDecoded(input)];
      if (b instanceof Error) {
        assert.ok(a instanceof FormatViolation && b instanceof FormatViolation, `case ${i}: ${String(a)} / ${String(b)}`);
        assert.equal(a.message, b.message);
      } else {
        assert.ok(a instanceof MemoryIndex, `case ${i}: ${String(a)}`);
        assert.deepEqual([...a.blobs()], [...b.blobs()]);
      }
    }
  }
});

test('a huge declared count in a small index is rejected without allocating for it', () => {
  const lying = Buffer.from(validIndex);
  lying.writeUInt32LE(0xffffffff, 1);
  assert.throws(() => decodeIndexFile(lying), FormatViolation);
  const lyingHeader = Buffer.from(validHeader);
  lyingHeader.writeUInt32LE(0xffffffff, 1);
  assert.throws(() => decodePackHeader(lyingHeader, 348), FormatViolation);
});

test('JSON that tries prototype pollution is rejected as damage and pollutes nothing', () => {
  const evil = Buffer.from('{"__proto__":{"polluted":true},"hindsight":"key"}');
  assert.throws(() => parseKeyFile(createHash('sha256').update(evil).digest('hex'), evil), { code: 'E_DAMAGED' });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
