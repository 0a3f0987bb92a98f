import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Repository } from '../../../src-main/engine/repository/repository.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { saveSnapshot, type Snapshot } from '../../../src-main/engine/snapshot/snapshot.js';
import { encodeTree, type TreeNode } from '../../../src-main/engine/snapshot/tree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

const EMPTY_SUMMARY = {
  filesNew: 0, filesChanged: 0, filesUnchanged: 0, filesRead: 0, dirs: 0, otherEntries: 0, bytesRead: 0,
  totalFiles: 0, totalBytes: 0, bytesAdded: 0, dataBlobsAdded: 0, treeBlobsAdded: 0, warnings: 0, durationMs: 0,
};

const base = { mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_700_000_000_000_000_000n, ctimeNs: 0n, size: 0 };

async function fileNode(repository: Repository, name: Buffer | string, text: string): Promise<TreeNode> {
  const { id } = await repository.saveBlob('data', Buffer.from(text));
  return { ...base, name: Buffer.from(name), type: 'file', size: text.length, content: [id] };
}

async function dirNode(repository: Repository, name: Buffer | string, children: TreeNode[]): Promise<TreeNode> {
  const { id } = await repository.saveBlob('tree', encodeTree(children));
  return { ...base, mode: 0o755, name: Buffer.from(name), type: 'dir', subtree: id };
}

/** Writes a snapshot whose root folder holds exactly `nodes`: what an attacker with write access to the storage could do. */
async function craftSnapshot(repository: Repository, nodes: TreeNode[]): Promise<Snapshot> {
  const { id } = await repository.saveBlob('tree', encodeTree(nodes));
  await repository.flush();
  return saveSnapshot(repository, {
    hindsight: 'snapshot', version: 1, time: new Date().toISOString(), host: 'attacker', username: 'mallory',
    paths: ['/'], tags: [], type: 'full', tree: id.toString('hex'), summary: EMPTY_SUMMARY,
  });
}

async function listAll(path: string): Promise<string[]> {
  return (await readdir(path, { recursive: true })).map(String).sort();
}

test('names that climb out, absolute names and names with "/" or NUL are refused; nothing lands outside the target', async (t) => {
  const dir = await tempDir(t);
  const { repository } = await createTestRepository(t);
  const outside = join(dir, 'outside');
  await mkdir(outside);
  const snapshot = await craftSnapshot(repository, [
    await fileNode(repository, '..', 'dot-dot'),
    await fileNode(repository, '.', 'dot'),
    await fileNode(repository, '', 'empty name'),
    await fileNode(repository, '../outside/escaped.txt', 'climbing'),
    await fileNode(repository, `${outside}/absolute.txt`, 'absolute'),
    await fileNode(repository, Buffer.from('nul\0byte'), 'nul'),
    await dirNode(repository, '..', [await fileNode(repository, 'escaped.txt', 'via a dir named ..')]),
    await dirNode(repository, 'ok-dir', [await fileNode(repository, 'inner.txt', 'fine'), await fileNode(repository, '../../outside/x', 'nested climb')]),
    await fileNode(repository, 'safe.txt', 'this one is fine'),
  ]);
  const target = join(dir, 'target');
  const result = await restore(repository, { snapshot, target });
  assert.deepEqual(await listAll(outside), [], 'nothing may be written outside the target');
  assert.deepEqual(await listAll(target), ['ok-dir', 'ok-dir/inner.txt', 'safe.txt']);
  assert.deepEqual((await readdir(dir)).sort(), ['outside', 'target'], 'nothing may appear beside the target either');
  assert.equal(await readFile(join(target, 'safe.txt'), 'utf8'), 'this one is fine');
  assert.equal(await readFile(join(target, 'ok-dir', 'inner.txt'), 'utf8'), 'fine');
  const messages = result.problems.map((p) => p.message).join('\n');
  assert.equal(result.problems.length, 8, messages);
  assert.match(messages, /refused an entry with an unsafe name \(name is ".."\)/);
  assert.match(messages, /refused an entry with an unsafe name \(name is "."\)/);
  assert.match(messages, /unsafe name \(empty name\)/);
  assert.match(messages, /unsafe name \(name contains "\/"\)/);
  assert.match(messages, /unsafe name \(name contains a NUL byte\)/);
});

test('a symlink in the snapshot is never followed by a later write', async (t) => {
  const dir = await tempDir(t);
  const { repository } = await createTestRepository(t);
  const outside = join(dir, 'outside');
  await mkdir(outside);
  // A symlink "escape" to the outside folder, and a folder of the same name whose file would land there if the link were followed.
  const snapshot = await craftSnapshot(repository, [
    { ...base, name: Buffer.from('escape'), type: 'symlink', linkTarget: Buffer.from(outside) },
    await dirNode(repository, 'escape', [await fileNode(repository, 'payload.txt', 'should never reach outside')]),
    { ...base, name: Buffer.from('link-first'), type: 'symlink', linkTarget: Buffer.from(outside) },
    await dirNode(repository, 'zz', [{ ...base, name: Buffer.from('up'), type: 'symlink', linkTarget: Buffer.from('../../outside') }]),
  ]);
  const target = join(dir, 'target');
  const result = await restore(repository, { snapshot, target });
  assert.deepEqual(await listAll(outside), []);
  assert.equal(await readlink(join(target, 'link-first')), outside, 'symlinks themselves are restored as they were');
  assert.equal(await readlink(join(target, 'zz', 'up')), '../../outside');
  assert.match(result.problems.map((p) => p.message).join('\n'), /more than once in the same folder/);
});

test('a symlink already in the target is not written through', async (t) => {
  const dir = await tempDir(t);
  const { repository } = await createTestRepository(t);
  const outside = join(dir, 'outside');
  await mkdir(outside);
  const target = join(dir, 'target');
  await mkdir(target);
  await symlink(outside, join(target, 'docs'));
  const snapshot = await craftSnapshot(repository, [await dirNode(repository, 'docs', [await fileNode(repository, 'report.txt', 'would escape')])]);
  const result = await restore(repository, { snapshot, target });
  assert.deepEqual(await listAll(outside), []);
  assert.match(result.problems[0]?.message ?? '', /a symbolic link is in the way/);
});

test('a damaged chunk fails only its file; the rest is restored', async (t) => {
  const dir = await tempDir(t);
  const { repository, path } = await createTestRepository(t);
  const good = await fileNode(repository, 'good.txt', 'intact');
  const bad = await fileNode(repository, 'bad.txt', 'will be damaged');
  const snapshot = await craftSnapshot(repository, [good, bad]);
  const location = repository.index.get(bad.content?.[0] as Buffer);
  assert.ok(location);
  const { writeFile } = await import('node:fs/promises');
  const packFile = join(path, 'data', location.pack.slice(0, 2), location.pack);
  const bytes = await readFile(packFile);
  bytes[location.offset + 2] = (bytes[location.offset + 2] as number) ^ 0x40;
  await writeFile(packFile, bytes);
  const target = join(dir, 'target');
  const result = await restore(repository, { snapshot, target });
  assert.equal(await readFile(join(target, 'good.txt'), 'utf8'), 'intact');
  assert.deepEqual(await readdir(target), ['good.txt'], 'no partial or temporary file is left for the damaged one');
  assert.equal(result.problems.length, 1);
  assert.match(result.problems[0]?.message ?? '', /not restored: Blob [0-9a-f]+ in pack data\/[0-9a-f]+ is damaged or was modified/);
});
