import assert from 'node:assert/strict';
import { readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import { encodeIndexFile } from '../../../src-main/engine/repository/indexFile.js';
import { findPath } from '../../../src-main/engine/snapshot/treePath.js';
import { seededBytes } from '../../helpers/data.js';
import { buildAwkwardTree } from '../../helpers/fileTree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

async function backedUp(t: TestContext) {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source);
  await writeFile(join(source, 'big.bin'), seededBytes('big', 6 * 1024 * 1024));
  const made = await createTestRepository(t, { packSize: 1024 * 1024 });
  const { snapshot } = await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') });
  return { ...made, source, snapshot, repository: await made.reopen() };
}

/** Every file of the repository with its size and mtime, to prove check wrote nothing. */
async function fingerprint(path: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const info = await stat(join(entry.parentPath, entry.name));
    out.push(`${join(entry.parentPath, entry.name)} ${info.size} ${info.mtimeMs}`);
  }
  return out.sort();
}

/** Where the last chunk of big.bin is stored, found through the snapshot itself. */
async function bigFileChunk(made: Awaited<ReturnType<typeof backedUp>>) {
  const target = await findPath(made.repository, made.snapshot, `${made.source}/big.bin`);
  assert.equal(target.kind, 'entry');
  const ids = target.kind === 'entry' ? (target.node.content ?? []) : [];
  const location = made.repository.index.get(ids[ids.length - 1] as Buffer);
  assert.ok(location);
  return location;
}

test('a healthy repository checks clean, with and without reading data, and check changes nothing', async (t) => {
  const { repository, path } = await backedUp(t);
  const before = await fingerprint(path);
  const structure = await checkRepository(repository);
  assert.deepEqual(structure.errors, []);
  assert.equal(structure.snapshots, 1);
  assert.ok(structure.trees > 3);
  const full = await checkRepository(repository, { readData: { kind: 'all' } });
  assert.deepEqual(full.errors, []);
  assert.equal(full.packsRead, full.packs);
  assert.equal(full.blobsRead, repository.index.size);
  assert.deepEqual(await fingerprint(path), before);
});

test('a deleted pack is reported with the files it breaks', async (t) => {
  const made = await backedUp(t);
  const { repository, path } = made;
  const victim = await bigFileChunk(made);
  await unlink(join(path, 'data', victim.pack.slice(0, 2), victim.pack));
  const result = await checkRepository(repository);
  assert.ok(result.errors.some((e) => e.kind === 'pack-missing' && e.message.includes(victim.pack.slice(0, 16))));
  // The pack may hold chunks of other files too; big.bin must be among the files named.
  assert.ok(result.errors.some((e) => e.kind === 'pack-missing' && e.affects?.some((f) => f.endsWith('/source/big.bin'))), JSON.stringify(result.errors));
});

test('a truncated pack is reported: wrong size, and blobs beyond its end', async (t) => {
  const made = await backedUp(t);
  const { repository, path } = made;
  const victim = await bigFileChunk(made);
  const file = join(path, 'data', victim.pack.slice(0, 2), victim.pack);
  await truncate(file, victim.offset + 10);
  const kinds = new Set((await checkRepository(repository)).errors.map((e) => e.kind));
  assert.ok(kinds.has('pack-size'));
  assert.ok(kinds.has('blob-beyond-pack'));
});

test('a flipped byte inside a blob is found by --read-data and named with its file', async (t) => {
  const made = await backedUp(t);
  const { repository, path, snapshot } = made;
  const victim = await bigFileChunk(made);
  const file = join(path, 'data', victim.pack.slice(0, 2), victim.pack);
  const bytes = await readFile(file);
  const middle = victim.offset + Math.floor(victim.length / 2);
  bytes[middle] = (bytes[middle] as number) ^ 1;
  await writeFile(file, bytes);
  assert.deepEqual((await checkRepository(repository)).errors, [], 'structure alone cannot see it');
  const result = await checkRepository(repository, { readData: { kind: 'all' } });
  assert.equal(result.errors.length, 1, JSON.stringify(result.errors));
  const [error] = result.errors;
  assert.equal(error?.kind, 'blob-damaged');
  assert.match(error?.message ?? '', /is damaged or was modified \(authentication failed\)/);
  assert.deepEqual(error?.affects?.map((f) => f.replace(/^[0-9a-f]{8}:/, '').split('/').pop()), ['big.bin']);
  assert.ok(error?.affects?.[0]?.startsWith(snapshot.id.slice(0, 8)));
});

test('an index entry pointing past the end of its pack is reported', async (t) => {
  const { repository, reopen } = await backedUp(t);
  const real = [...repository.index.packs()][0];
  assert.ok(real);
  await repository.saveObject('index', encodeIndexFile({
    supersedes: [],
    packs: [{ id: Buffer.from(real.name, 'hex'), size: real.size + 5000, blobs: [{ id: seededBytes('ghost', 32), type: 'data', compressed: false, offset: real.size, length: 1016, rawLength: 1000 }] }],
  }));
  const result = await checkRepository(await reopen());
  assert.ok(result.errors.some((e) => e.kind === 'blob-beyond-pack'), JSON.stringify(result.errors));
});

test('--read-data reports index entries that the pack\'s own header does not list at that place', async (t) => {
  const { repository, reopen } = await backedUp(t);
  const real = [...repository.index.packs()][0];
  assert.ok(real);
  const first = [...repository.index.blobs()].find((blob) => blob.pack === real.name && blob.offset === 0);
  assert.ok(first);
  // One at the place of a real blob, one at a place where no blob starts; both within the pack.
  const ghosts = [seededBytes('ghost at 0', 32), seededBytes('ghost at 1', 32)];
  await repository.saveObject('index', encodeIndexFile({
    supersedes: [],
    packs: [{ id: Buffer.from(real.name, 'hex'), size: real.size, blobs: ghosts.map((id, offset) => ({ id, type: 'data' as const, compressed: false, offset, length: first.length, rawLength: first.length - 16 })) }],
  }));
  const result = await checkRepository(await reopen(), { readData: { kind: 'all' } });
  const header = result.errors.filter((e) => e.kind === 'pack-header').map((e) => e.message);
  assert.deepEqual(header.sort(), ghosts.map((id) => `pack ${real.name.slice(0, 16)}: its header does not list blob ${id.toString('hex').slice(0, 16)} where the index puts it`).sort());
});

test('read-data subsets: K/M slices cover every pack exactly once', async (t) => {
  const { repository } = await backedUp(t);
  let total = 0;
  for (let k = 1; k <= 4; k++) total += (await checkRepository(repository, { readData: { kind: 'slice', slice: k, of: 4 } })).packsRead;
  assert.equal(total, repository.index.packCount);
  const half = await checkRepository(repository, { readData: { kind: 'percent', percent: 50 } });
  assert.ok(half.packsRead < repository.index.packCount);
  assert.equal((await checkRepository(repository, { readData: { kind: 'percent', percent: 100 } })).packsRead, repository.index.packCount);
});
