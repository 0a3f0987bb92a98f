import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import type { ByteRange, ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { listSnapshots } from '../../../src-main/engine/snapshot/snapshot.js';
import { findPath } from '../../../src-main/engine/snapshot/treePath.js';
import { seededBytes } from '../../helpers/data.js';
import { assertSameTree, describeTree } from '../../helpers/fileTree.js';
import { bytesUnder } from '../../helpers/folderSize.js';
import { tempDir } from '../../helpers/tempDir.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

const MiB = 1024 * 1024;

/** A local backend that fires `controller` once it has stored `count` data packs, as a pause arriving mid-backup would. */
class StopAfterPacks extends LocalBackend {
  private packs = 0;
  constructor(
    path: string,
    private readonly count: number,
    private readonly controller: AbortController,
  ) {
    super(path);
  }

  // Every object, streamed pack or whole, is written through a writer: a data pack is stored once its commit resolves.
  override createWriter(handle: ObjectHandle) {
    const writer = super.createWriter(handle);
    return {
      ...writer,
      commit: async () => {
        await writer.commit();
        if (handle.type === 'data' && ++this.packs === this.count) this.controller.abort();
      },
    };
  }
}

test('a backup stopped through its signal keeps its finished work, and the rerun uploads only the rest', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  const total = 96 * MiB;
  for (let i = 0; i < 24; i++) await writeFile(join(source, `file-${i}.bin`), seededBytes(`interrupt-${i}`, total / 24));
  const made = await createTestRepository(t, { packSize: 2 * MiB });
  const cacheDir = join(dir, 'cache');
  const controller = new AbortController();
  // Stop once three packs are stored (as a pause would): the safe point must keep them and what is in flight.
  const repository = await Repository.open(new StopAfterPacks(made.path, 3, controller), TEST_PASSWORD);
  await assert.rejects(backup(repository, { paths: [source], cacheDir, signal: controller.signal }), { code: 'E_INTERRUPTED' });
  assert.deepEqual(await listSnapshots(repository), [], 'no snapshot for an interrupted backup');
  const kept = await bytesUnder(join(made.path, 'data'));
  assert.ok(kept > 4 * MiB && kept < total, `the finished packs are kept (${kept} bytes)`);

  const reopened = await made.reopen();
  assert.deepEqual((await checkRepository(reopened)).errors, [], 'the kept packs are indexed and consistent');
  const { snapshot } = await backup(reopened, { paths: [source], cacheDir });
  // Random data does not compress: what the rerun adds plus what was kept is the data once, not twice.
  assert.ok(snapshot.summary.bytesAdded + kept < total * 1.05, `rerun added ${snapshot.summary.bytesAdded} after ${kept} kept, of ${total}`);
  assert.ok(snapshot.summary.bytesAdded < total - kept / 2);
  const target = join(dir, 'restored');
  assert.deepEqual((await restore(reopened, { snapshot, target })).problems, []);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
});

test('a backup of one large file stops mid-file, not at its end, and the rerun completes it', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  const total = 64 * MiB;
  await writeFile(join(source, 'video.bin'), seededBytes('one-large-file', total));
  const made = await createTestRepository(t, { packSize: 2 * MiB });
  const cacheDir = join(dir, 'cache');
  const controller = new AbortController();
  const repository = await Repository.open(new StopAfterPacks(made.path, 3, controller), TEST_PASSWORD);
  await assert.rejects(backup(repository, { paths: [source], cacheDir, signal: controller.signal, workers: 1 }), { code: 'E_INTERRUPTED' });
  const kept = await bytesUnder(join(made.path, 'data'));
  // Before the stop reached the file's reader, a pause waited for the whole file to be packed.
  assert.ok(kept >= 4 * MiB && kept < total * 0.75, `stopped mid-file: ${kept} of ${total} bytes stored`);

  const reopened = await made.reopen();
  assert.deepEqual((await checkRepository(reopened)).errors, []);
  const { snapshot } = await backup(reopened, { paths: [source], cacheDir });
  assert.ok(snapshot.summary.bytesAdded + kept < total * 1.05, `rerun added ${snapshot.summary.bytesAdded} after ${kept} kept`);
  const target = join(dir, 'restored');
  assert.deepEqual((await restore(reopened, { snapshot, target })).problems, []);
  assert.ok((await readFile(join(target, source, 'video.bin'))).equals(await readFile(join(source, 'video.bin'))));
});

test('with changed paths, folders without changes come from the parent snapshot unread', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  for (const folder of ['a', 'b', 'b/deep']) await mkdir(join(source, folder), { recursive: true });
  await writeFile(join(source, 'a', 'x.txt'), 'x version 1');
  await writeFile(join(source, 'b', 'y.txt'), 'y version 1');
  await writeFile(join(source, 'b', 'deep', 'z.txt'), 'z version 1');
  const { repository } = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  const first = await backup(repository, { paths: [source], cacheDir });

  await writeFile(join(source, 'a', 'x.txt'), 'x version 2');
  await writeFile(join(source, 'a', 'new.txt'), 'new');
  // A change the watcher did not report: proves folder b is not read again.
  await writeFile(join(source, 'b', 'y.txt'), 'y version 2, unreported');
  const { snapshot } = await backup(repository, { paths: [source], cacheDir, changedPaths: [join(source, 'a', 'x.txt'), join(source, 'a', 'new.txt')] });
  assert.equal(snapshot.parent, first.snapshot.id);
  assert.equal(snapshot.summary.totalFiles, 4);
  assert.equal(snapshot.summary.filesRead, 2, 'only the two changed files were read');

  const target = join(dir, 'restored');
  await restore(repository, { snapshot, target });
  const restored = (name: string) => join(target, source, name);
  assert.equal(await readFile(restored('a/x.txt'), 'utf8'), 'x version 2');
  assert.equal(await readFile(restored('a/new.txt'), 'utf8'), 'new');
  assert.equal(await readFile(restored('b/y.txt'), 'utf8'), 'y version 1');
  assert.equal(await readFile(restored('b/deep/z.txt'), 'utf8'), 'z version 1');
  const reused = await findPath(repository, snapshot, `${source}/b/deep`);
  const original = await findPath(repository, first.snapshot, `${source}/b/deep`);
  assert.ok(reused.kind === 'dir' && original.kind === 'dir' && reused.tree.equals(original.tree), 'b/deep is the same tree');

  // A full scan (no changed paths) then sees everything.
  const full = await backup(repository, { paths: [source], cacheDir });
  const again = join(dir, 'restored-full');
  await restore(repository, { snapshot: full.snapshot, target: again });
  assertSameTree(await describeTree(join(again, source)), await describeTree(source));
});

test('a backup stopped before the progress count is done fails with its own error; the count cut short is no unhandled rejection', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  // Enough folders that the count is still running when the walk stops at its first entry.
  for (let i = 0; i < 200; i++) {
    await mkdir(join(source, `folder-${i}`), { recursive: true });
    for (let j = 0; j < 20; j++) await writeFile(join(source, `folder-${i}`, `file-${j}`), `${i}/${j}`);
  }
  const made = await createTestRepository(t);
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', record);
  t.after(() => process.off('unhandledRejection', record));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache'), signal: controller.signal }), { code: 'E_INTERRUPTED' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(unhandled, []);
});

test('with changed paths, the unchanged folders taken from the parent share one read of its trees', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  for (let i = 0; i < 20; i++) {
    await mkdir(join(source, `folder-${i}`, 'inner'), { recursive: true });
    await writeFile(join(source, `folder-${i}`, 'inner', 'file.txt'), `file ${i}`);
  }
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  await backup(made.repository, { paths: [source], cacheDir });
  await made.repository.close();

  class PackReads extends LocalBackend {
    count = 0;
    override read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
      if (handle.type === 'data') this.count += 1;
      return super.read(handle, range);
    }
  }
  const backend = new PackReads(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD);
  t.after(() => repository.close());
  await writeFile(join(source, 'folder-0', 'inner', 'file.txt'), 'file 0, version 2');
  const { snapshot } = await backup(repository, { paths: [source], cacheDir, changedPaths: [join(source, 'folder-0', 'inner', 'file.txt')] });
  assert.equal(snapshot.summary.filesRead, 1);
  assert.equal(snapshot.summary.filesUnchanged, 19);
  // 19 folders walked whole from the parent (for their counts) and the way down to folder-0: one window.
  assert.equal(backend.count, 1, `${backend.count} reads of packs`);
});
