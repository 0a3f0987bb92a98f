import assert from 'node:assert/strict';
import { cp, mkdir, open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { objectPath, type ByteRange, type ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { ReplicatedBackend } from '../../../src-main/engine/backend/replicatedBackend.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import type { TreeNode } from '../../../src-main/engine/snapshot/tree.js';
import { TreeLoader, loadTree } from '../../../src-main/engine/snapshot/treeLoader.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

/** A local backend that counts reads of packs and keeps their ranges. */
class PackReadCounter extends LocalBackend {
  packReads = 0;
  readonly ranges: { pack: string; offset: number; length: number }[] = [];

  override read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    if (handle.type === 'data') {
      this.packReads += 1;
      if (range) this.ranges.push({ pack: handle.name, ...range });
    }
    return super.read(handle, range);
  }
}

/** The same, standing for a backend over a network: reads are not cheap. */
class RemoteLikeCounter extends PackReadCounter {
  override readonly cheapReads = false;
}

/** A backup of 3 × 4 × 3 nested folders, each with two small files: over 52 trees, in one tree pack. */
async function backedUpFolders(t: TestContext) {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 4; b++) {
      for (let c = 0; c < 3; c++) {
        const folder = join(source, `a${a}`, `b${b}`, `c${c}`);
        await mkdir(folder, { recursive: true });
        await writeFile(join(folder, 'one.txt'), `${a}/${b}/${c}`);
        await writeFile(join(folder, 'two.bin'), seededBytes(`${a}${b}${c}`, 700));
      }
    }
  }
  const made = await createTestRepository(t);
  const { snapshot } = await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') });
  await made.repository.close();
  return { ...made, dir, root: Buffer.from(snapshot.tree, 'hex') };
}

/** The backup of backedUpFolders, opened again through a backend that counts pack reads. */
async function openCounted(t: TestContext) {
  const made = await backedUpFolders(t);
  const backend = new PackReadCounter(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD);
  t.after(() => repository.close());
  return { made, backend, repository };
}

/** Every tree below `root` (root first, depth first) with its nodes, read by `load`. */
async function walk(root: Buffer, load: (id: Buffer) => Promise<TreeNode[]>): Promise<Map<string, TreeNode[]>> {
  const trees = new Map<string, TreeNode[]>();
  const pending = [root];
  while (pending.length > 0) {
    const id = pending.pop() as Buffer;
    const nodes = await load(id);
    trees.set(id.toString('hex'), nodes);
    for (const node of nodes) if (node.subtree) pending.push(node.subtree);
  }
  return trees;
}

/** Where a tree blob sits: its pack's file and the blob's offset and length there. */
function treeLocation(repository: Repository, path: string, id: Buffer) {
  const location = repository.index.get(id);
  assert.ok(location && location.type === 'tree');
  return { file: join(path, objectPath({ type: 'data', name: location.pack })), offset: location.offset, length: location.length };
}

async function flipByteAt(file: string, offset: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = (byte[0] as number) ^ 0x40;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

test('a walk reads a small tree pack once, and gets every tree exactly as a read of that tree alone', async (t) => {
  const { made, backend, repository } = await openCounted(t);

  const alone = await walk(made.root, (id) => loadTree(repository, id));
  // The source, 3 + 12 + 36 folders below it, and the folders above it down from "/".
  assert.ok(alone.size > 52, `${alone.size} trees`);
  const readsAlone = backend.packReads;
  assert.equal(readsAlone, alone.size);

  const loader = new TreeLoader(repository);
  backend.packReads = 0;
  assert.deepEqual(await walk(made.root, (id) => loader.load(id)), alone);
  assert.equal(backend.packReads, 1, 'the whole tree pack in one read');
});

test('trees spread over more than one window are each read with their window, never one by one', async (t) => {
  const { made, backend, repository } = await openCounted(t);
  const alone = await walk(made.root, (id) => loadTree(repository, id));

  // Windows of 2 KiB hold a few trees each: trees are found in windows read for earlier ones, and in
  // new windows where they fall outside, with each tree still authenticated on its own.
  const loader = new TreeLoader(repository, { bytes: 2048, kept: 4 });
  backend.packReads = 0;
  assert.deepEqual(await walk(made.root, (id) => loader.load(id)), alone);
  assert.ok(backend.packReads > 1 && backend.packReads < alone.size / 2, `${backend.packReads} reads for ${alone.size} trees`);
});

test('windows tile the pack: a walk that comes back to trees it read finds them held, and a tile is not read again for trees inside it', async (t) => {
  const { made, backend, repository } = await openCounted(t);
  const alone = await walk(made.root, (id) => loadTree(repository, id));
  const loader = new TreeLoader(repository, { bytes: 1024, kept: 1000 });
  backend.packReads = 0;
  backend.ranges.length = 0;
  assert.deepEqual(await walk(made.root, (id) => loader.load(id)), alone);
  const packReads = backend.packReads;
  assert.ok(packReads > 1, `${packReads} reads`);
  // Again, in the opposite order: everything is held.
  for (const hex of [...alone.keys()].reverse()) assert.deepEqual(await loader.load(Buffer.from(hex, 'hex')), alone.get(hex));
  assert.equal(backend.packReads, packReads);
  // A window starts at a tile's start. A tile is read once on its own, and at most once more as the start
  // of a window stretched for the tree that crosses its end: never again for trees inside it.
  for (const range of backend.ranges) assert.equal(range.offset % 1024, 0, `a window starting at ${range.offset}`);
  const reads = new Map<string, number>();
  for (const range of backend.ranges) reads.set(`${range.pack}@${range.offset}`, (reads.get(`${range.pack}@${range.offset}`) ?? 0) + 1);
  for (const [tile, times] of reads) assert.ok(times <= 2, `${tile} read ${times} times`);
});

test('windows follow the backend: small ones where reads are cheap (the local disk), 2 MiB ones where each is a round trip', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  // 240 folders of 16 files with names that do not compress: about 380 KB of trees, in one pack.
  for (let folder = 0; folder < 240; folder++) {
    const path = join(source, seededBytes(`folder ${folder}`, 24).toString('hex'));
    await mkdir(path, { recursive: true });
    for (let file = 0; file < 16; file++) await writeFile(join(path, seededBytes(`${folder}/${file}`, 32).toString('hex')), `${folder}/${file}`);
  }
  const made = await createTestRepository(t);
  const { snapshot } = await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') });
  await made.repository.close();
  const root = Buffer.from(snapshot.tree, 'hex');
  const treeBytes = (repository: Repository, trees: Map<string, TreeNode[]>) => [...trees.keys()].reduce((sum, hex) => sum + (repository.index.get(Buffer.from(hex, 'hex'))?.length ?? 0), 0);

  const local = new PackReadCounter(made.path);
  const onDisk = await Repository.open(local, TEST_PASSWORD);
  t.after(() => onDisk.close());
  const alone = await walk(root, (id) => loadTree(onDisk, id));
  assert.ok(treeBytes(onDisk, alone) > 256 * 1024, `${treeBytes(onDisk, alone)} bytes of trees`);
  local.packReads = 0;
  local.ranges.length = 0;
  const localLoader = new TreeLoader(onDisk);
  assert.deepEqual(await walk(root, (id) => localLoader.load(id)), alone);
  const largestTree = Math.max(...[...alone.keys()].map((hex) => onDisk.index.get(Buffer.from(hex, 'hex'))?.length ?? 0));
  assert.ok(local.packReads > 2, `${local.packReads} reads`);
  for (const range of local.ranges) assert.ok(range.offset % (128 * 1024) === 0 && range.length <= 128 * 1024 + largestTree, `a read of ${range.length} bytes at ${range.offset}`);

  const remote = new RemoteLikeCounter(made.path);
  const overNetwork = await Repository.open(remote, TEST_PASSWORD);
  t.after(() => overNetwork.close());
  const loader = new TreeLoader(overNetwork);
  remote.packReads = 0;
  assert.deepEqual(await walk(root, (id) => loader.load(id)), alone);
  assert.equal(remote.packReads, 1, 'every tree in one 2 MiB read');
});

test('a damaged tree fails alone and names the damage; a window that cannot be read falls back to reading each tree', async (t) => {
  const made = await backedUpFolders(t);
  let repository = await made.reopen();
  const alone = await walk(made.root, (id) => loadTree(repository, id));
  const [victimHex] = [...alone.keys()].filter((hex) => hex !== made.root.toString('hex'));
  const victim = Buffer.from(victimHex as string, 'hex');
  const where = treeLocation(repository, made.path, victim);
  await repository.close();
  await flipByteAt(where.file, where.offset + Math.floor(where.length / 2));

  repository = await made.reopen();
  t.after(() => repository.close());
  const loader = new TreeLoader(repository);
  const expected = await loadTree(repository, victim).then(
    () => assert.fail('the damaged tree loaded'),
    (err: Error & { code?: string }) => err,
  );
  assert.equal(expected.code, 'E_DAMAGED');
  await assert.rejects(loader.load(victim), { code: 'E_DAMAGED', message: expected.message });
  for (const [hex, nodes] of alone) if (hex !== victimHex) assert.deepEqual(await loader.load(Buffer.from(hex, 'hex')), nodes);

  // Cut the pack short after the last tree (its header gone): the window the index asks for cannot be
  // read, and every tree is then read alone, which still works for the trees before the cut.
  await truncate(where.file, Math.max(...[...alone.keys()].map((hex) => treeLocation(repository, made.path, Buffer.from(hex, 'hex'))).map((l) => l.offset + l.length)));
  const afterCut = new TreeLoader(repository);
  for (const [hex, nodes] of alone) if (hex !== victimHex) assert.deepEqual(await afterCut.load(Buffer.from(hex, 'hex')), nodes);
});

test('in a replicated repository a tree damaged on the first target is read from the second', async (t) => {
  const made = await backedUpFolders(t);
  const copy = join(made.dir, 'copy');
  await cp(made.path, copy, { recursive: true });
  let repository = await made.reopen();
  const alone = await walk(made.root, (id) => loadTree(repository, id));
  const victim = made.root;
  await repository.close();
  await flipByteAt(treeLocation(repository, made.path, victim).file, treeLocation(repository, made.path, victim).offset + 3);

  repository = await Repository.open(new ReplicatedBackend([new LocalBackend(made.path), new LocalBackend(copy)]), TEST_PASSWORD);
  t.after(() => repository.close());
  const loader = new TreeLoader(repository);
  assert.deepEqual(await walk(made.root, (id) => loader.load(id)), alone);
});
