import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FUZZ_CASES, expectTypedOutcome, prng } from '../../helpers/fuzz.js';
import { parseSnapshotRecord, type SnapshotRecord } from '../../../src-main/engine/snapshot/snapshot.js';
import { FormatViolation } from '../../../src-main/engine/repository/packFormat.js';
import { decodeAnyTree, decodeTree, encodeTree, encodeTreeInOrder, type TreeNode } from '../../../src-main/engine/snapshot/tree.js';
import { decodeCanonicalTree, decodeLocatedEntry, locateCanonicalEntries, locatedIsFile } from '../../../src-main/engine/snapshot/canonicalTree.js';

const base = { mode: 0o644, uid: 1000, gid: 1000, mtimeNs: 1_700_000_000_123_456_789n, ctimeNs: 1_700_000_000_123_456_789n };
const nodes: TreeNode[] = [
  { ...base, name: Buffer.from('a.txt'), type: 'file', size: 5, content: [prng('c1', 32), prng('c2', 32)] },
  { ...base, name: Buffer.from('docs'), type: 'dir', size: 0, subtree: prng('t', 32) },
  { ...base, name: Buffer.from('link'), type: 'symlink', size: 0, linkTarget: Buffer.from('../a.txt') },
];
const validTree = encodeTree(nodes);
const record: SnapshotRecord = JSON.parse(
  JSON.stringify({
    hindsight: 'snapshot',
    version: 1,
    time: '2026-11-23T10:00:00.000Z',
    host: 'laptop',
    username: 'ann',
    paths: ['/home/ann'],
    tags: [],
    type: 'incremental',
    tree: 'ab'.repeat(32),
    summary: { filesNew: 1, filesChanged: 0, filesUnchanged: 0, filesRead: 1, dirs: 1, otherEntries: 0, bytesRead: 5, totalFiles: 1, totalBytes: 5, bytesAdded: 5, dataBlobsAdded: 1, treeBlobsAdded: 1, warnings: 0, durationMs: 3 },
  }),
);
const validSnapshot = Buffer.from(JSON.stringify(record));

test('valid trees and snapshot records parse to what was written', () => {
  const decoded = decodeTree(validTree);
  assert.deepEqual(decoded.map((n) => [n.name.toString(), n.type, n.size]), nodes.map((n) => [n.name.toString(), n.type, n.size]));
  assert.ok(encodeTree(decoded).equals(validTree), 'a decoded tree encodes to the same bytes');
  assert.deepEqual(parseSnapshotRecord(validSnapshot, 'x'), record);
});

test('each field of a tree entry is checked: a wrong value is a FormatViolation naming it, unknown fields are ignored', () => {
  const good = { name: 'a', type: 'file', mode: 420, uid: 1, gid: 2, mtimeNs: '-5', ctimeNs: '6', size: 7, content: ['ab'.repeat(32)], inode: '8' };
  const treeOf = (entry: unknown) => Buffer.from(JSON.stringify({ nodes: [entry] }));
  const parsed = decodeTree(treeOf({ ...good, future: { anything: true } }))[0];
  assert.deepEqual(parsed, { name: Buffer.from('a'), type: 'file', mode: 420, uid: 1, gid: 2, mtimeNs: -5n, ctimeNs: 6n, size: 7, content: [Buffer.alloc(32, 0xab)], inode: 8n });
  const bad: [string, unknown][] = [
    ['not an object', 'entry'],
    ['unknown type', { ...good, type: 'door' }],
    ['no name', { ...good, name: undefined }],
    ['name is not a string', { ...good, name: 5 }],
    ['nameB64 is not base64', { ...good, name: undefined, nameB64: 'a!b' }],
    ['mode out of range', { ...good, mode: 0o10000 }],
    ['uid is not a whole number', { ...good, uid: -1 }],
    ['gid is not a whole number', { ...good, gid: 1.5 }],
    ['size is not a whole number', { ...good, size: 2 ** 53 }],
    ['mtimeNs is not a decimal number', { ...good, mtimeNs: '12a' }],
    ['ctimeNs is not a decimal number', { ...good, ctimeNs: 6 }],
    ['content is not a list', { ...good, content: 'ab'.repeat(32) }],
    ['content is not a 64-digit hex id', { ...good, content: ['AB'.repeat(32)] }],
    ['subtree is not a 64-digit hex id', { ...good, type: 'dir', content: undefined, subtree: 'ab'.repeat(31) }],
    ['linkTarget is not a string', { ...good, linkTarget: null }],
    ['inode is not a decimal number', { ...good, inode: null }],
    ['device is not a decimal number', { ...good, device: '1'.repeat(31) }],
    ['links is not a whole number', { ...good, links: '2' }],
    ['rdev is not a decimal number', { ...good, rdev: 3 }],
    ['directory entry without a subtree', { ...good, type: 'dir', content: undefined }],
    ['file entry without content', { ...good, content: undefined }],
    ['symlink without a target', { ...good, type: 'symlink', content: undefined }],
  ];
  for (const [message, entry] of bad) {
    assert.throws(() => decodeTree(treeOf(entry)), (err: Error) => err instanceof FormatViolation && err.message.includes(message), message);
  }
  for (const notATree of ['[]', '{"nodes":{}}', 'null', '{"nodes":[null]}']) assert.throws(() => decodeTree(Buffer.from(notATree)), FormatViolation, notATree);
});

test(`random, mutated and truncated trees and snapshot records (${FUZZ_CASES} each) only ever yield typed errors`, () => {
  let outcomes = 0;
  for (let i = 0; i < FUZZ_CASES; i++) {
    const r = prng(`m${i}`, 16);
    const mutated = (valid: Buffer) => {
      const copy = Buffer.from(valid);
      for (let k = 0; k <= (r[0] as number) % 4; k++) copy[r.readUInt16LE(2 + 2 * k) % copy.length] = r[10 + k] as number;
      return copy;
    };
    for (const valid of [validTree, validSnapshot]) {
      for (const input of [prng(`r${i}`, i % 500), mutated(valid), valid.subarray(0, r.readUInt16LE(8) % valid.length)]) {
        expectTypedOutcome(() => decodeTree(input));
        expectTypedOutcome(() => parseSnapshotRecord(input, 'fuzz'));
        outcomes += 2;
      }
    }
  }
  assert.equal(outcomes, FUZZ_CASES * 12);
});

/** FUZZ_CASES * 4 copies of `valid`, each with one to three bytes replaced by characters of `alphabet`, seeded by `label`. */
function* mutatedCopies(valid: Buffer, alphabet: Buffer, label: string): Generator<[number, Buffer]> {
  for (let i = 0; i < FUZZ_CASES * 4; i++) {
    const r = prng(`${label}${i}`, 16);
    const copy = Buffer.from(valid);
    for (let k = 0; k <= (r[0] as number) % 3; k++) copy[r.readUInt16LE(2 + 2 * k) % copy.length] = alphabet[(r[10 + k] as number) % alphabet.length] as number;
    yield [i, copy];
  }
}

test('trees in the layout encodeTree writes are read straight from their bytes to exactly what the general decoder gives', () => {
  const times = { mtimeNs: -1_234_567_890_123_456_789n, ctimeNs: 0n };
  const varied: TreeNode[] = [
    ...nodes,
    { ...base, name: Buffer.from('empty'), type: 'file', size: 0, content: [], inode: 123_456_789_012_345_678_901_234_567_890n, device: 0n, links: 2, birthtimeNs: 9n },
    { ...base, ...times, name: Buffer.from('dev'), type: 'chardev', size: 0, rdev: 1025n, flags: { system: 'linux', value: 0x10 } },
    { ...base, name: Buffer.from('~odd name, with "quotes"?'.replace(/"/g, '')), type: 'fifo', size: 0, flags: { system: 'bsd', value: 0xffffffff } },
    { ...base, uid: 2 ** 53 - 1, gid: 0, mode: 0o7777, name: Buffer.from('big'), type: 'file', size: 2 ** 52, content: [prng('c3', 32)] },
  ];
  for (const tree of [varied, []]) {
    const bytes = encodeTree(tree);
    const read = decodeCanonicalTree(bytes);
    assert.ok(read, 'read without falling back');
    assert.deepEqual(read, decodeAnyTree(bytes));
  }
  // What the direct reader leaves to the general decoder, which reads it as before.
  const general: TreeNode[][] = [
    [{ ...nodes[0], name: Buffer.from('naïve.txt') } as TreeNode],
    [{ ...nodes[0], name: Buffer.from('say "hi"') } as TreeNode],
    [{ ...nodes[0], name: Buffer.from([0x66, 0xff]) } as TreeNode],
    [{ ...nodes[0], xattrs: [{ name: 'user.x', value: Buffer.from('v') }] } as TreeNode],
  ];
  for (const tree of general) {
    const bytes = encodeTree(tree);
    assert.equal(decodeCanonicalTree(bytes), undefined);
    assert.deepEqual(decodeTree(bytes), tree);
  }
  for (const other of ['{"nodes":[]} ', '{ "nodes":[]}', '{"nodes":[],"more":1}']) assert.equal(decodeCanonicalTree(Buffer.from(other)), undefined, other);

  // Mutations drawn from JSON's own characters: whatever the direct reader accepts, the general decoder
  // reads to the same nodes, and encodeTree writes back byte for byte (what reusing an entry's bytes relies on).
  const alphabet = Buffer.from('0123456789abcdefABF-"{}[],: \\xn');
  const valid = encodeTree(varied);
  let accepted = 0;
  for (const [i, copy] of mutatedCopies(valid, alphabet, 'canonical')) {
    const read = decodeCanonicalTree(copy);
    if (!read) continue;
    accepted += 1;
    assert.deepEqual(read, decodeAnyTree(copy), `case ${i}`);
    assert.ok(encodeTree(read).equals(copy), `case ${i} encodes back`);
  }
  assert.ok(accepted > FUZZ_CASES / 10, `${accepted} mutated trees read directly`);
});

test('a tree in the layout encodeTree writes is located entry by entry: each entry\'s bytes, name and kind, read alone to what the whole tree gives', () => {
  const varied: TreeNode[] = [
    ...nodes,
    { ...base, name: Buffer.from('empty'), type: 'file', size: 0, content: [], inode: 7n, links: 2, device: 3n, birthtimeNs: 9n },
    { ...base, name: Buffer.from('dev'), type: 'chardev', size: 0, rdev: 1025n, flags: { system: 'linux', value: 0x10 } },
    { ...base, name: Buffer.from('flagged'), type: 'file', size: 1, content: [prng('c4', 32)], flags: { system: 'linux', value: 0x20 } },
    { ...base, name: Buffer.from('link2'), type: 'symlink', size: 0, linkTarget: Buffer.from('../elsewhere') },
  ];
  const bytes = encodeTree(varied);
  const located = locateCanonicalEntries(bytes);
  assert.ok(located);
  const whole = decodeAnyTree(bytes);
  assert.equal(located.count, whole.length);
  for (const [j, node] of whole.entries()) {
    const alone = encodeTree([node]);
    assert.ok(bytes.subarray(located.starts[j], located.ends[j]).equals(alone.subarray('{"nodes":['.length, alone.length - 2)), `entry ${j}'s bytes`);
    assert.ok(bytes.subarray((located.starts[j] as number) + '{"name":"'.length, located.nameEnds[j]).equals(node.name), `entry ${j}'s name`);
    assert.equal(locatedIsFile(located, j), node.type === 'file');
    assert.deepEqual(decodeLocatedEntry(located, j), node);
  }
  // Bytes taken as they are beside nodes encoded anew make the tree encoding every node anew makes.
  const changed = { ...(whole[1] as TreeNode), size: 12345 };
  const spliced = encodeTreeInOrder(whole.map((_node, j) => (j === 1 ? changed : bytes.subarray(located.starts[j], located.ends[j]))));
  assert.ok(spliced.equals(encodeTree(whole.map((node, j) => (j === 1 ? changed : { ...node })))));
  assert.ok(encodeTreeInOrder([]).equals(encodeTree([])));
  const empty = locateCanonicalEntries(encodeTree([]));
  assert.equal(empty?.count, 0);

  // Not located: what may not be in the layout, and attribute lists (their objects have names too).
  for (const tree of [
    [{ ...nodes[0], name: Buffer.from('naïve.txt') } as TreeNode],
    [{ ...nodes[0], name: Buffer.from('say "hi"') } as TreeNode],
    [{ ...nodes[0], xattrs: [{ name: 'user.x', value: Buffer.from('v') }, { name: 'user.y', value: Buffer.from('w') }] } as TreeNode],
  ]) {
    assert.equal(locateCanonicalEntries(encodeTree(tree)), undefined);
  }
  // Names out of order are not a tree encodeTree writes.
  const swapped = Buffer.from(bytes.toString('latin1').replace('"name":"dev"', '"name":"zzz"'), 'latin1');
  assert.equal(locateCanonicalEntries(swapped), undefined);

  // Whatever mutated tree is located, its entries cover it exactly: the tree is its entries joined by commas.
  const alphabet = Buffer.from('0123456789abcdef-"{}[],: xn');
  let accepted = 0;
  for (const [i, copy] of mutatedCopies(bytes, alphabet, 'locate')) {
    const found = locateCanonicalEntries(copy);
    if (!found) continue;
    accepted += 1;
    const parts = Array.from({ length: found.count }, (_, j) => copy.subarray(found.starts[j], found.ends[j]));
    assert.ok(Buffer.concat([Buffer.from('{"nodes":['), ...parts.flatMap((part, j) => (j === 0 ? [part] : [Buffer.from(','), part])), Buffer.from(']}')]).equals(copy), `case ${i}`);
  }
  assert.ok(accepted > FUZZ_CASES / 10, `${accepted} mutated trees located`);
});

test('a tree declaring a huge entry count or name length is rejected without allocating for it', () => {
  for (const offset of [0, 1, 2, 3, 4, 5, 6, 7, 8]) {
    const lying = Buffer.from(validTree);
    if (offset + 4 > lying.length) continue;
    lying.writeUInt32LE(0xffffffff, offset);
    expectTypedOutcome(() => decodeTree(lying));
  }
});

test('snapshot JSON cannot pollute prototypes', () => {
  const hostile = Buffer.from(JSON.stringify({ ...record, __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } }).replace('"hindsight"', '"__proto__":{"polluted":true},"hindsight"'));
  expectTypedOutcome(() => parseSnapshotRecord(hostile, 'hostile'));
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
});
