import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTree, decodeTreeForReuse, encodeTree, sameNode, type TreeNode } from '../../../src-main/engine/snapshot/tree.js';

test('a tree encodes to exactly the bytes of the format (its id depends on them), and decodes back', () => {
  const nodes: TreeNode[] = [
    { name: Buffer.from('b-link'), type: 'symlink', mode: 0o777, uid: 1000, gid: 1000, mtimeNs: 1700000000123456789n, ctimeNs: 1700000000987654321n, size: 0, linkTarget: Buffer.from([0x2e, 0x2e, 0x2f, 0xff]) },
    { name: Buffer.from('a-ünï.txt'), type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, ctimeNs: 2n, size: 5, content: [Buffer.alloc(32, 0xab)], inode: 42n, device: 2049n, links: 2 },
    { name: Buffer.from([0x63, 0xc3, 0x28]), type: 'dir', mode: 0o755, uid: 1, gid: 2, mtimeNs: 3n, ctimeNs: 4n, size: 0, subtree: Buffer.alloc(32, 0x01) },
    { name: Buffer.from('d-dev'), type: 'chardev', mode: 0o600, uid: 0, gid: 0, mtimeNs: 5n, ctimeNs: 6n, size: 0, rdev: 259n },
  ];
  // Written by the encoder before it was rewritten for speed; any change here changes every tree id.
  const expected =
    '{"nodes":[{"name":"a-ünï.txt","type":"file","mode":420,"uid":0,"gid":0,"mtimeNs":"1","ctimeNs":"2","size":5,"content":["abababababababababababababababababababababababababababababababab"],"inode":"42","device":"2049","links":2},' +
    '{"name":"b-link","type":"symlink","mode":511,"uid":1000,"gid":1000,"mtimeNs":"1700000000123456789","ctimeNs":"1700000000987654321","size":0,"linkTargetB64":"Li4v/w=="},' +
    '{"nameB64":"Y8Mo","type":"dir","mode":493,"uid":1,"gid":2,"mtimeNs":"3","ctimeNs":"4","size":0,"subtree":"0101010101010101010101010101010101010101010101010101010101010101"},' +
    '{"name":"d-dev","type":"chardev","mode":384,"uid":0,"gid":0,"mtimeNs":"5","ctimeNs":"6","size":0,"rdev":"259"}]}';
  const encoded = encodeTree(nodes);
  assert.equal(encoded.toString('utf8'), expected);
  assert.deepEqual(encodeTree(decodeTree(encoded)), encoded);
});

test('entries read for reuse are written again as their bytes: the tree is the one encoding every entry anew would give', () => {
  const file = (name: string, size: number): TreeNode => ({ name: Buffer.from(name), type: 'file', mode: 0o644, uid: 1000, gid: 1000, mtimeNs: 1700000000123456789n, ctimeNs: 1700000000987654321n, size, content: [Buffer.alloc(32, size)], inode: BigInt(size) });
  const parent = decodeTreeForReuse(encodeTree([file('a', 1), file('c', 3), file('e', 5), file('g', 7)]));
  const [a, c, e, g] = parent as [TreeNode, TreeNode, TreeNode, TreeNode];
  // As a small-change backup makes them: some entries as read, one changed (a new object), some new, some gone, in any order.
  const mixed = [g, file('b', 2), { ...c, size: 30 }, a, file('z', 26), file('d', 4)];
  const fresh = mixed.map((node) => ({ ...node }));
  assert.deepEqual(encodeTree(mixed), encodeTree(fresh));
  assert.deepEqual(encodeTree([e, a, c, g]), encodeTree(parent.map((node) => ({ ...node }))));
  assert.deepEqual(encodeTree([e]), encodeTree([{ ...e }]));
  // A tree not in encodeTree's layout (a name that is not ASCII) is read the general way, its entries encoded anew.
  const other = decodeTreeForReuse(encodeTree([file('ä', 1), file('b', 2)]));
  assert.deepEqual(encodeTree([...other, file('c', 3)]), encodeTree([file('ä', 1), file('b', 2), file('c', 3)]));
});

test('sameNode holds exactly when two entries encode to the same bytes, field by field', () => {
  // Every field of a node, so a field added to the format but not to sameNode fails here.
  const full: Required<TreeNode> = {
    name: Buffer.from('n'),
    type: 'file',
    mode: 0o644,
    uid: 1,
    gid: 2,
    mtimeNs: 3n,
    ctimeNs: 4n,
    size: 5,
    content: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)],
    subtree: Buffer.alloc(32, 3),
    linkTarget: Buffer.from('t'),
    inode: 6n,
    device: 7n,
    links: 8,
    rdev: 9n,
    xattrs: [{ name: 'user.tag', value: Buffer.from('red') }, { name: 'user.big', blob: Buffer.alloc(32, 6) }],
    flags: { system: 'linux', value: 0x10 },
    birthtimeNs: 10n,
  };
  const changed: Required<TreeNode> = {
    name: Buffer.from('m'),
    type: 'dir',
    mode: 0o600,
    uid: 11,
    gid: 12,
    mtimeNs: 13n,
    ctimeNs: 14n,
    size: 15,
    content: [Buffer.alloc(32, 1), Buffer.alloc(32, 4)],
    subtree: Buffer.alloc(32, 5),
    linkTarget: Buffer.from('u'),
    inode: 16n,
    device: 17n,
    links: 18,
    rdev: 19n,
    xattrs: [{ name: 'user.tag', value: Buffer.from('blue') }, { name: 'user.big', blob: Buffer.alloc(32, 6) }],
    flags: { system: 'linux', value: 0x20 },
    birthtimeNs: 20n,
  };
  const copy = (node: Required<TreeNode>): TreeNode => ({
    ...node,
    name: Buffer.from(node.name),
    content: node.content.map((id) => Buffer.from(id)),
    subtree: Buffer.from(node.subtree),
    linkTarget: Buffer.from(node.linkTarget),
    xattrs: node.xattrs.map((x) => ({ ...x, ...(x.value ? { value: Buffer.from(x.value) } : {}) })),
  });
  const encodesAlike = (a: TreeNode, b: TreeNode) => encodeTree([a]).equals(encodeTree([b]));
  assert.ok(sameNode(full, copy(full)), 'a copy with fresh buffers is the same');
  const variants: TreeNode[] = [];
  for (const key of Object.keys(full) as (keyof TreeNode)[]) {
    variants.push({ ...full, [key]: changed[key] });
    if (key !== 'name' && key !== 'type' && typeof full[key] !== 'number' && typeof full[key] !== 'bigint') {
      const { [key]: _dropped, ...without } = full;
      variants.push(without as TreeNode);
    }
  }
  variants.push({ ...full, content: [Buffer.alloc(32, 1)] }, { ...full, content: [] });
  variants.push({ ...full, flags: { system: 'bsd', value: 0x10 } });
  variants.push({ ...full, xattrs: full.xattrs.slice(0, 1) }, { ...full, xattrs: [{ name: 'user.tag', blob: Buffer.alloc(32, 6) }, ...full.xattrs.slice(1)] });
  for (const node of [...variants, { ...full, inode: undefined, device: undefined, links: undefined, rdev: undefined } as TreeNode]) {
    const { inode, device, links, rdev, ...rest } = node;
    const comparable: TreeNode = { ...rest, ...(inode !== undefined ? { inode } : {}), ...(device !== undefined ? { device } : {}), ...(links !== undefined ? { links } : {}), ...(rdev !== undefined ? { rdev } : {}) };
    assert.equal(sameNode(full, comparable), encodesAlike(full, comparable), `changed: ${JSON.stringify(Object.keys(node))}`);
    assert.equal(sameNode(full, comparable), false);
  }
});

test('extended attributes: an optional field after the others, values inline as base64 or as a blob id; old trees decode without it', () => {
  const node: TreeNode = {
    name: Buffer.from('f'),
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtimeNs: 1n,
    ctimeNs: 2n,
    size: 0,
    content: [],
    xattrs: [
      { name: 'system.posix_acl_access', value: Buffer.from([2, 0, 0, 0]) },
      { name: 'user.big', blob: Buffer.alloc(32, 0xcd) },
    ],
  };
  const encoded = encodeTree([node]).toString('utf8');
  assert.ok(encoded.endsWith(`"content":[],"xattrs":[{"name":"system.posix_acl_access","value":"AgAAAA=="},{"name":"user.big","blob":"${'cd'.repeat(32)}"}]}]}`), encoded);
  assert.deepEqual(decodeTree(Buffer.from(encoded)), [node]);
  const old = '{"nodes":[{"name":"f","type":"file","mode":420,"uid":0,"gid":0,"mtimeNs":"1","ctimeNs":"2","size":0,"content":[]}]}';
  assert.equal(decodeTree(Buffer.from(old))[0]?.xattrs, undefined);
  for (const bad of ['[]', '{}', '[{"name":""}]', '[{"name":"user.a"}]', '[{"name":"user.a","value":"%%"}]', '[{"name":"user.a","blob":"ab"}]']) {
    assert.throws(() => decodeTree(Buffer.from(old.replace('"content":[]', `"content":[],"xattrs":${bad}`))), /xattrs|extended attribute/, bad);
  }
});
