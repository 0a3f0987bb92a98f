import assert from 'node:assert/strict';
import { appendFileSync, unlinkSync } from 'node:fs';
import { appendFile, chmod, mkdir, open, readFile, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Progress } from '../../../src-shared/progress.js';
import { backup, type BackupOptions } from '../../../src-main/engine/archiver/backup.js';
import { BackendError, type ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import { prune } from '../../../src-main/engine/maintenance/prune.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { listSnapshots } from '../../../src-main/engine/snapshot/snapshot.js';
import { findPath } from '../../../src-main/engine/snapshot/treePath.js';
import { seededBytes } from '../../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../../helpers/fileTree.js';
import { bytesUnder } from '../../helpers/folderSize.js';
import { assertNoPartialObjects } from '../../helpers/partialObjects.js';
import { tempDir } from '../../helpers/tempDir.js';
import { FAST_KDF, TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

const MiB = 1024 * 1024;

test('an awkward tree survives backup and restore byte for byte, metadata included', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 10_000, sparseFileBytes: 200 * MiB, depth: 100 });
  const { repository } = await createTestRepository(t);
  const warnings: unknown[] = [];
  const { snapshot } = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache'), onWarning: (w) => warnings.push(w) });
  assert.deepEqual(warnings, []);
  assert.equal(snapshot.summary.warnings, 0);
  assert.ok(snapshot.summary.filesNew > 10_000);

  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target });
  assert.deepEqual(result.problems, []);
  assert.ok(result.hardLinks >= 2, 'hard links are recreated as links');
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
});

test('a second backup without changes reads nothing and adds almost nothing', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 2000 });
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  const first = await backup(made.repository, { paths: [source], cacheDir });
  const before = await bytesUnder(made.path);
  const second = await backup(await made.reopen(), { paths: [source], cacheDir });
  const added = (await bytesUnder(made.path)) - before;
  assert.equal(second.snapshot.parent, first.snapshot.id);
  assert.equal(second.snapshot.summary.filesRead, 0);
  assert.equal(second.snapshot.summary.bytesRead, 0);
  assert.equal(second.snapshot.summary.filesUnchanged, first.snapshot.summary.filesNew);
  assert.ok(added < 10 * 1024, `the second backup added ${added} bytes`);

  // Without the files cache, the parent snapshot still tells unchanged files apart.
  const third = await backup(await made.reopen(), { paths: [source], cacheDir: join(dir, 'other-cache') });
  assert.equal(third.snapshot.summary.filesRead, 0);

  // Without a parent (another host name), the files cache alone does, for every name of a hard-linked file too.
  const fourth = await backup(await made.reopen(), { paths: [source], cacheDir, host: 'another-host' });
  assert.equal(fourth.snapshot.parent, undefined);
  assert.equal(fourth.snapshot.summary.filesRead, 0);
  assert.equal(fourth.snapshot.summary.filesUnchanged, first.snapshot.summary.filesNew);
});

test('changes that read no content reach the snapshot, and untouched folders keep their tree ids', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  for (const folder of ['same/deep', 'modes', 'links', 'gone', 'times']) await mkdir(join(source, folder), { recursive: true });
  for (const folder of ['same', 'same/deep', 'modes', 'gone', 'times']) await writeFile(join(source, folder, 'f.txt'), `in ${folder}`);
  await writeFile(join(source, 'gone', 'g.txt'), 'removed later');
  await symlink('../same/f.txt', join(source, 'links', 'l'));
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  const first = await backup(made.repository, { paths: [source], cacheDir });

  // Each folder's tree has to change, though no file's content does.
  await chmod(join(source, 'modes', 'f.txt'), 0o600);
  await unlink(join(source, 'links', 'l'));
  await symlink('../modes/f.txt', join(source, 'links', 'l'));
  await unlink(join(source, 'gone', 'g.txt'));
  await utimes(join(source, 'times'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  const repository = await made.reopen();
  const second = await backup(repository, { paths: [source], cacheDir });
  // Its new ctime is explained by its new mode: the content recorded stands (see onlyMetadataChanged).
  assert.equal(second.snapshot.summary.filesRead, 0, 'the chmod-ed file is not read again');
  assert.equal(second.snapshot.summary.bytesRead, 0);

  const treeOf = async (snapshot: typeof first.snapshot, folder: string) => {
    const found = await findPath(repository, snapshot, join(source, folder));
    assert.equal(found.kind, 'dir');
    return found.tree.toString('hex');
  };
  // A folder's own times are recorded in its parent's tree, so 'times' keeps its tree too.
  for (const folder of ['same', 'same/deep', 'times']) assert.equal(await treeOf(second.snapshot, folder), await treeOf(first.snapshot, folder), `${folder} is unchanged`);
  for (const folder of ['modes', 'links', 'gone', '.']) assert.notEqual(await treeOf(second.snapshot, folder), await treeOf(first.snapshot, folder), `${folder} changed`);
  const target = join(dir, 'restored');
  await restore(repository, { snapshot: second.snapshot, target });
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
});

test('after editing 2% of the bytes the repository grows by about the changed chunks', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source);
  const big = join(source, 'big.bin');
  await writeFile(big, seededBytes('big', 64 * MiB));
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  await backup(made.repository, { paths: [source], cacheDir });
  const before = await bytesUnder(made.path);
  // 2% of 64 MiB: an insertion in the middle (shifting everything after it) and an append.
  const file = await open(big, 'r+');
  const original = seededBytes('big', 64 * MiB);
  const inserted = Buffer.concat([original.subarray(0, 32 * MiB), seededBytes('inserted', 640 * 1024), original.subarray(32 * MiB)]);
  await file.write(inserted, 0, inserted.length, 0);
  await file.close();
  await appendFile(big, seededBytes('appended', 640 * 1024));
  const { snapshot } = await backup(await made.reopen(), { paths: [source], cacheDir });
  const added = (await bytesUnder(made.path)) - before;
  assert.equal(snapshot.summary.filesChanged, 1);
  // The changed bytes (1.25 MiB) plus a few neighbouring chunks, never the whole 64 MiB file. Over 100 random keys
  // this edit needed at most 6 new chunks (8.9 MiB); the bounds leave room for that tail.
  assert.ok(snapshot.summary.dataBlobsAdded <= 8, `${snapshot.summary.dataBlobsAdded} new chunks`);
  assert.ok(added < 12 * MiB, `the repository grew by ${(added / MiB).toFixed(1)} MiB`);
  assert.ok(added > 1 * MiB, `the repository grew by only ${(added / MiB).toFixed(1)} MiB`);
  const restored = join(dir, 'restored');
  await restore(await made.reopen(), { snapshot, target: restored, path: big });
  assert.ok((await readFile(join(restored, 'big.bin'))).equals(Buffer.concat([inserted, seededBytes('appended', 640 * 1024)])));
});

test('a changed file whose earlier chunks were pruned away is stored whole again', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  const file = join(source, 'report.bin');
  const cacheDir = join(dir, 'cache');
  const made = await createTestRepository(t, { packSize: 256 * 1024, chunker: { minSize: 64 * 1024, avgSize: 128 * 1024, maxSize: 512 * 1024 } });
  await writeFile(file, seededBytes('first', 2 * MiB));
  await backup(made.repository, { paths: [source], cacheDir });
  // The second version's chunks are only in the second snapshot; forgetting it and pruning removes them,
  // while the files cache still lists them as the file's content.
  const second = seededBytes('second', 2 * MiB);
  await writeFile(file, second);
  const { snapshot: forgotten } = await backup(await made.reopen(), { paths: [source], cacheDir });
  const secondIds = await findPath(await made.reopen(), forgotten, file);
  assert.equal(secondIds.kind, 'entry');
  const ids = secondIds.kind === 'entry' ? (secondIds.node.content ?? []) : [];
  assert.ok(ids.length > 4, `${ids.length} chunks`);
  await made.repository.backend.delete({ type: 'snapshots', name: forgotten.id });
  await prune(await made.reopen());
  const pruned = await made.reopen();
  assert.ok(ids.every((id) => !pruned.hasBlob(id)), 'prune removed the second version\'s chunks');

  // Changed again, it still starts with the second version: those chunks must be stored anew, not taken as stored.
  const third = Buffer.concat([second, seededBytes('appended', 300 * 1024)]);
  await writeFile(file, third);
  const { snapshot } = await backup(pruned, { paths: [source], cacheDir });
  assert.ok(snapshot.summary.dataBlobsAdded >= ids.length, `${snapshot.summary.dataBlobsAdded} chunks added`);
  const checked = await checkRepository(await made.reopen(), { readData: { kind: 'all' } });
  assert.deepEqual(checked.errors, []);
  const restored = join(dir, 'restored');
  await restore(await made.reopen(), { snapshot, target: restored, path: file });
  assert.ok((await readFile(join(restored, 'report.bin'))).equals(third));
});

test('progress totals: counted by a walk of their own, else taken from the parent snapshot, else unknown', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(join(source, 'sub'), { recursive: true });
  let bytes = 0;
  for (let i = 0; i < 30; i++) {
    await writeFile(join(source, i % 2 === 0 ? 'sub' : '', `f${i}`), seededBytes(`f${i}`, 1000 + i));
    bytes += 1000 + i;
  }
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  const lastProgress = async (options: Partial<BackupOptions>) => {
    let latest: Progress | undefined;
    await backup(await made.reopen(), { paths: [source], cacheDir, onProgress: (p) => (latest = p), ...options });
    return latest;
  };
  const counted = await lastProgress({});
  assert.equal(counted?.filesTotal, 30);
  assert.equal(counted?.bytesTotal, bytes);
  await writeFile(join(source, 'extra'), seededBytes('extra', 5000));
  // The parent's totals stand in: the new file is not in them.
  const estimated = await lastProgress({ countTotals: false });
  assert.equal(estimated?.filesTotal, 30);
  assert.equal(estimated?.bytesTotal, bytes);
  assert.equal(estimated?.filesDone, 31);
  const unknown = await lastProgress({ countTotals: false, type: 'full' });
  assert.equal(unknown?.filesTotal, undefined);
  assert.equal(unknown?.bytesTotal, undefined);
  assert.equal(unknown?.filesDone, 31);
});

test('full rereads every file, incremental does not, differential compares with the last full', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 300 });
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  const full = (await backup(made.repository, { paths: [source], cacheDir, type: 'full' })).snapshot;
  assert.equal(full.type, 'full');
  // Every file is read, except the two extra names of the hard-linked file (same inode, read once).
  assert.equal(full.summary.filesRead, full.summary.totalFiles - 2);
  await writeFile(join(source, 'hello.txt'), 'changed after the full backup\n');
  const incremental = (await backup(await made.reopen(), { paths: [source], cacheDir })).snapshot;
  assert.equal(incremental.summary.filesRead, 1);
  assert.equal(incremental.parent, full.id);
  const again = (await backup(await made.reopen(), { paths: [source], cacheDir, type: 'full' })).snapshot;
  assert.equal(again.summary.filesRead, again.summary.totalFiles - 2, 'full trusts no cache');
  assert.equal(again.parent, undefined);
  await writeFile(join(source, 'run.sh'), 'changed after the second full backup\n');
  const inc2 = (await backup(await made.reopen(), { paths: [source], cacheDir })).snapshot;
  assert.equal(inc2.summary.filesRead, 1);
  await writeFile(join(source, 'empty.txt'), 'changed after the incremental\n');
  const differential = (await backup(await made.reopen(), { paths: [source], cacheDir, type: 'differential' })).snapshot;
  // Differential compares with the last full one: both files changed since then are read again.
  assert.equal(differential.parent, again.id);
  assert.equal(differential.summary.filesRead, 2);
  assert.equal((await listSnapshots(await made.reopen())).length, 5);
});

test('the first snapshot of a set of paths is recorded as full, the next as incremental of it', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 20 });
  const made = await createTestRepository(t);
  const first = (await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') })).snapshot;
  assert.equal(first.type, 'full');
  assert.equal(first.parent, undefined);
  const second = (await backup(await made.reopen(), { paths: [source], cacheDir: join(dir, 'cache') })).snapshot;
  assert.equal(second.type, 'incremental');
  assert.equal(second.parent, first.id);
  const other = join(dir, 'other');
  await mkdir(other);
  await writeFile(join(other, 'a.txt'), 'a');
  const differential = (await backup(await made.reopen(), { paths: [source, other], cacheDir: join(dir, 'cache'), type: 'differential' })).snapshot;
  assert.equal(differential.type, 'full', 'a new set of paths has no parent, whatever was asked');
});

test('a file that vanishes or changes while being read is a warning, and the backup completes', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  // Three times the bytes a file worker may have in flight, so the worker is still reading when the main thread
  // handles its first chunk; one worker, and both files large (small ones go first), so the second waits its turn.
  await writeFile(join(source, 'a-growing.log'), seededBytes('log', 48 * MiB));
  await writeFile(join(source, 'z-vanishing.txt'), seededBytes('here at listing time, gone when read', 128 * 1024));
  const { repository } = await createTestRepository(t);
  const warnings: { path: string; message: string }[] = [];
  let meddled = false;
  const { snapshot } = await backup(repository, {
    paths: [source],
    cacheDir: join(dir, 'cache'),
    workers: 1,
    onWarning: (w) => warnings.push(w),
    // Called as the first chunk of a-growing.log arrives: the folder has been listed, the file is being read.
    onProgress: (p) => {
      if (meddled || !p.currentPath?.endsWith('a-growing.log')) return;
      meddled = true;
      unlinkSync(join(source, 'z-vanishing.txt'));
      appendFileSync(join(source, 'a-growing.log'), 'more');
    },
  });
  assert.ok(meddled);
  // Files are read concurrently: warnings come in the order the reads finish.
  assert.deepEqual(
    warnings.map((w) => [w.path.split('/').pop(), w.message]).sort(),
    [
      ['a-growing.log', 'changed while it was being read; the snapshot has the content as read'],
      ['z-vanishing.txt', 'vanished before it could be read'],
    ],
  );
  assert.equal(snapshot.summary.warnings, 2);
  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target });
  assert.deepEqual(result.problems, []);
  const restoredLog = await readFile(join(target, source, 'a-growing.log'));
  assert.ok(restoredLog.length >= 48 * MiB);
  assert.ok(restoredLog.subarray(0, 48 * MiB).equals(seededBytes('log', 48 * MiB)));
});

test('files read concurrently give the same snapshot tree as files read one at a time', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 500 });
  await writeFile(join(source, 'large.bin'), seededBytes('large', 24 * MiB));
  const made = await createTestRepository(t);
  const one = (await backup(made.repository, { paths: [source], type: 'full', workers: 1 })).snapshot;
  const many = (await backup(await made.reopen(), { paths: [source], type: 'full', workers: 4 })).snapshot;
  // The source's tree, not the root's: the folders above it (the temp folder) change as other tests run.
  const reader = await made.reopen();
  const treeOf = async (snapshot: typeof one) => {
    const found = await findPath(reader, snapshot, source);
    assert.equal(found.kind, 'dir');
    return found.kind === 'dir' ? found.tree.toString('hex') : '';
  };
  assert.equal(await treeOf(many), await treeOf(one), 'the same tree, so every folder listing and chunk list below it is identical');
  assert.equal(many.summary.dataBlobsAdded, 0, 'every chunk was found again');
  assert.equal(many.summary.filesRead, one.summary.filesRead);
  const target = join(dir, 'restored');
  assert.deepEqual((await restore(await made.reopen(), { snapshot: many, target })).problems, []);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
});

test('a pack that cannot be written fails the backup with that error while files are still being read', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 2000 });
  await writeFile(join(source, 'large.bin'), seededBytes('large', 24 * MiB));
  let packs = 0;
  // The second data pack fills the disk: its first bytes reach the file, then the write fails.
  class FullDisk extends LocalBackend {
    override createWriter(handle: ObjectHandle) {
      const writer = super.createWriter(handle);
      if (handle.type !== 'data' || ++packs < 2) return writer;
      return {
        ...writer,
        append: async (data: Uint8Array) => {
          await writer.append(data);
          throw new BackendError('E_NO_SPACE', 'The backup target is full.');
        },
      };
    }
  }
  const repository = await Repository.init(new FullDisk(join(dir, 'repo')), { password: TEST_PASSWORD, kdf: FAST_KDF, packSize: 1024 * 1024 });
  await assert.rejects(backup(repository, { paths: [source], cacheDir: join(dir, 'cache') }), { code: 'E_NO_SPACE' });
  await repository.close();
  await assertNoPartialObjects(new LocalBackend(join(dir, 'repo')), join(dir, 'repo'));
});
