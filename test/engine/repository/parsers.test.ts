import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { FUZZ_CASES, expectTypedOutcome, prng } from '../../helpers/fuzz.js';
import { MasterKey } from '../../../src-main/engine/crypto/masterKey.js';
import { openConfig } from '../../../src-main/engine/repository/config.js';
import { decodeIndexFile, encodeIndexFile } from '../../../src-main/engine/repository/indexFile.js';
import { parseKeyFile } from '../../../src-main/engine/repository/keyFile.js';
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
