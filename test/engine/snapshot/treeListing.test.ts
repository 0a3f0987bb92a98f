import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FolderEntry } from '../../../src-shared/folderPage.js';
import { FormatViolation } from '../../../src-main/engine/repository/packFormat.js';
import { decodeTree, displayName, encodeTree, type TreeNode } from '../../../src-main/engine/snapshot/tree.js';
import { JsonSyntaxError } from '../../../src-main/engine/snapshot/jsonCursor.js';
import { decodeListing, decodeListingFrom, loadListing } from '../../../src-main/engine/snapshot/treeListing.js';
import { createTestRepository } from '../../helpers/testRepository.js';

/** The listing as the agent made it before, from the fully decoded entries: what decodeListing must equal. */
function listingFromFullDecode(plaintext: Buffer): FolderEntry[] {
  return decodeTree(plaintext).map((node) => ({
    name: displayName(node.name),
    type: node.type,
    ...(node.type === 'file' ? { size: node.size } : {}),
    mtimeMs: Number(node.mtimeNs / 1_000_000n),
    ...(node.linkTarget ? { linkTarget: displayName(node.linkTarget) } : {}),
    ...(node.xattrs ? { xattrs: node.xattrs.map((xattr) => xattr.name) } : {}),
  }));
}

const id = (byte: number) => Buffer.alloc(32, byte);
const common = { mode: 0o644, uid: 1000, gid: 1000, ctimeNs: 2n };

test('a listing read straight from a tree equals the one made from its full decode, for every kind of entry and name', () => {
  const nodes: TreeNode[] = [
    { ...common, name: Buffer.from('plain.txt'), type: 'file', mtimeNs: 1700000000123456789n, size: 12, content: [id(1)], inode: 42n, device: 7n, links: 2 },
    { ...common, name: Buffer.from('ünïcode'), type: 'file', mtimeNs: 999_999n, size: 0, content: [] },
    { ...common, name: Buffer.from('back\\slash and\ttab'), type: 'file', mtimeNs: -1_500_000_000n, size: 3, content: [id(2)] },
    { ...common, name: Buffer.from([0x63, 0xc3, 0x28, 0xff]), type: 'dir', mtimeNs: 0n, size: 0, subtree: id(3) },
    { ...common, name: Buffer.from('link'), type: 'symlink', mtimeNs: 5_000_000n, size: 0, linkTarget: Buffer.from([0x2e, 0x2e, 0x2f, 0xfe]) },
    { ...common, name: Buffer.from('with-acl'), type: 'file', mtimeNs: 1n, size: 9, content: [id(4)], xattrs: [{ name: 'system.posix_acl_access', value: Buffer.from([2, 0]) }, { name: 'user.big', blob: id(5) }] },
    { ...common, name: Buffer.from('pipe'), type: 'fifo', mtimeNs: -999n, size: 0 },
    { ...common, name: Buffer.from('sda'), type: 'blockdev', mtimeNs: 10n, size: 0, rdev: 2048n },
  ];
  const plaintext = encodeTree(nodes);
  assert.deepEqual(decodeListing(plaintext), listingFromFullDecode(plaintext));
});

test('a malformed tree is refused as such, naming the entry', () => {
  const tree = (nodes: unknown) => Buffer.from(JSON.stringify({ nodes }));
  const refused = (plaintext: Buffer, reason: RegExp) => assert.throws(() => decodeListing(plaintext), (err: Error) => err instanceof FormatViolation && reason.test(err.message));
  refused(Buffer.from('{"nodes": ['), /not valid JSON/);
  refused(Buffer.from('{"entries": []}'), /no list of entries/);
  const good = { name: 'a', type: 'file', mtimeNs: '1', size: 1 };
  refused(tree([good, { ...good, type: 'door' }]), /entry 1: unknown type/);
  refused(tree([{ ...good, name: undefined }]), /entry 0: no name/);
  refused(tree([{ ...good, name: 7 }]), /name is not a string/);
  refused(tree([{ ...good, name: undefined, nameB64: '!!' }]), /nameB64 is not base64/);
  refused(tree([{ ...good, mtimeNs: 1 }]), /mtimeNs is not a decimal number/);
  for (const mtimeNs of ['', '-', '12a', '1.5', '+1', ' 1', '1'.repeat(31)]) refused(tree([{ ...good, mtimeNs }]), /mtimeNs is not a decimal number/);
  refused(tree([{ ...good, size: -1 }]), /size is not a whole number/);
  refused(tree([{ ...good, xattrs: [{ value: 'AA==' }] }]), /xattrs is not a list/);
});

test('times are whole milliseconds toward zero, and escaped digits and type names read as JSON reads them', () => {
  const listed = (entry: string) => decodeListing(Buffer.from(`{"nodes":[${entry}]}`))[0];
  const at = (mtimeNs: string) => listed(`{"name":"a","type":"file","mtimeNs":"${mtimeNs}","size":1}`)?.mtimeMs;
  assert.deepEqual(['1999999', '-1999999', '-999999', '0', '-0', '000001000000', '1'.repeat(30)].map(at), [1, -1, 0, 0, 0, 1, Number('1'.repeat(24))]);
  assert.deepEqual(listed('{"name":"a","type":"fil\\u0065","mtimeNs":"\\u0031000000","size":1}'), { name: 'a', type: 'file', size: 1, mtimeMs: 1 });
});

test('a listing reads the tree whatever its JSON layout: white space, keys in any order, escapes, unknown keys', () => {
  const nodes: TreeNode[] = [
    { ...common, name: Buffer.from('say "hi"\\now'), type: 'file', mtimeNs: 1700000000123456789n, size: 12, content: [id(1)] },
    { ...common, name: Buffer.from('ünïcode'), type: 'symlink', mtimeNs: -5_000_000n, size: 0, linkTarget: Buffer.from('../ünï') },
    { ...common, name: Buffer.from([0x63, 0xc3, 0x28, 0xff]), type: 'dir', mtimeNs: 0n, size: 0, subtree: id(3), xattrs: [{ name: 'user.a', value: Buffer.from('b') }] },
  ];
  const plaintext = encodeTree(nodes);
  const expected = listingFromFullDecode(plaintext);
  const parsed = JSON.parse(plaintext.toString('utf8')) as { nodes: Record<string, unknown>[] };
  // Keys reversed, an unknown key of every JSON kind added, indented, and non-ASCII written as \u escapes.
  const reordered = { future: [1.5e-3, true, false, null, { deep: [] }], nodes: parsed.nodes.map((n) => ({ extra: { x: [-0.25, 'y'] }, ...Object.fromEntries(Object.entries(n).reverse()) })) };
  const text = JSON.stringify(reordered, null, '\t').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  assert.deepEqual(decodeListing(Buffer.from(` \r\n${text}\n`)), expected);
});

test('a tree that is not JSON is refused as such, wherever the fault is', () => {
  const good = '{"name":"a","type":"file","mtimeNs":"1","size":1}';
  for (const text of [
    `{"nodes":[${good}]} x`,
    `{"nodes":[${good},]}`,
    `{"nodes":[${good.replace('"size":1', '"size":01')}]}`,
    `{"nodes":[${good.replace('"size":1', '"size":1.')}]}`,
    `{"nodes":[${good.replace('"size":1', '"size":-')}]}`,
    `{"nodes":[${good}],"other":tru}`,
    `{"nodes":[${good}],"other":"unterminated}`,
    `{"nodes":[${good}] "other":1}`,
    `{"nodes":[${good.replace('"a"', '"a\\"')}]}`,
    '',
  ]) {
    assert.throws(() => decodeListing(Buffer.from(text)), (err: Error) => err instanceof FormatViolation && /not valid JSON/.test(err.message), text);
  }
  assert.deepEqual(decodeListing(Buffer.from(`{"nodes":[${good.replace('"size":1', '"size":1e3')}]}`))[0]?.size, 1000);
});

/** A reader that gives `text` in parts of the sizes `parts` cycles through, as a decompressor may. */
function partsOf(text: Buffer, parts: readonly number[]) {
  let at = 0;
  let turn = 0;
  return {
    read(into: Uint8Array): number {
      const count = Math.min(into.byteLength, parts[turn++ % parts.length]!, text.length - at);
      into.set(text.subarray(at, at + count));
      at += count;
      return count;
    },
  };
}

test('read a window at a time, a tree lists the same whatever the window and however its text comes; entries larger than the window are read whole', () => {
  const big = Array.from({ length: 300 }, (_, i) => id(i % 256));
  const nodes: TreeNode[] = Array.from({ length: 200 }, (_, i) => ({
    ...common,
    name: Buffer.from(i % 7 === 0 ? `naïve "quoted" \\ ${i}` : `file-${i}`),
    type: i % 5 === 0 ? 'dir' : 'file',
    mtimeNs: BigInt(i) * 1_000_000_123n - 50_000_000n,
    size: i * 1000,
    ...(i % 5 === 0 ? { subtree: id(i % 256) } : { content: i === 100 ? big : [id(i % 256)] }),
    ...(i % 9 === 0 ? { xattrs: [{ name: `user.n${i}`, value: Buffer.from('v') }] } : {}),
  }));
  const plaintext = encodeTree(nodes);
  const expected = decodeListing(plaintext);
  assert.deepEqual(expected, listingFromFullDecode(plaintext));
  // (The window must hold what comes before the first entry, {"nodes":[ in every tree Hindsight writes.)
  for (const window of [16, 100, 333, 4096, plaintext.length * 2]) {
    for (const parts of [[plaintext.length], [1], [7, 1, 50], [4096]]) {
      assert.deepEqual(decodeListingFrom(partsOf(plaintext, parts), window), expected, `window ${window}, parts ${parts.join(',')}`);
    }
  }
  // An empty folder, and white space around it all.
  assert.deepEqual(decodeListingFrom(partsOf(Buffer.from(' {"nodes":[]} \n'), [1]), 16), []);
  // Text after the tree is found however late it comes.
  assert.throws(() => decodeListingFrom(partsOf(Buffer.concat([plaintext, Buffer.from(' x')]), [4096]), 1024), JsonSyntaxError);
  assert.throws(() => decodeListingFrom(partsOf(plaintext.subarray(0, plaintext.length - 1), [4096]), 1024), JsonSyntaxError);
});

test('a tree listed from the repository a window at a time equals its whole decode, also when text before its entries overflows the window', async (t) => {
  const { repository } = await createTestRepository(t);
  const nodes: TreeNode[] = Array.from({ length: 3000 }, (_, i) => ({ ...common, name: Buffer.from(`mail-${i}.eml`), type: 'file', mtimeNs: BigInt(i) * 1_000_000_000n, size: i, content: [id(i % 256)] }));
  const plaintext = encodeTree(nodes);
  // A member before the entries longer than the window (no tree Hindsight writes has one): read whole instead.
  const padded = Buffer.from(`{"padding":"${'x'.repeat(300 * 1024)}",${plaintext.toString('utf8').slice(1)}`);
  const stored = [(await repository.saveBlob('tree', plaintext)).id, (await repository.saveBlob('tree', padded)).id];
  await repository.flush();
  const expected = decodeListing(plaintext);
  assert.ok(plaintext.length > 256 * 1024, 'the tree spans several windows');
  for (const treeId of stored) assert.deepEqual(await loadListing(repository, treeId), expected);
});
