import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import type { ByteRange, ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { listSnapshots } from '../../../src-main/engine/snapshot/snapshot.js';
import { seededBytes } from '../../helpers/data.js';
import { assertSameTree, describeTree } from '../../helpers/fileTree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

test('small files restored in batches honour the overwrite policy in a folder that already exists', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  for (let i = 0; i < 300; i++) await writeFile(join(source, `note-${i}.txt`), seededBytes(`note ${i}`, 100 + i * 13));
  await writeFile(join(source, 'large.bin'), seededBytes('large', 3 * 1024 * 1024));
  const { repository } = await createTestRepository(t);
  const { snapshot } = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache') });

  const target = join(dir, 'target');
  const first = await restore(repository, { snapshot, path: source, target });
  assert.deepEqual(first.problems, []);
  assert.equal(first.filesRestored, 301);
  for (const name of ['note-0.txt', 'note-299.txt', 'large.bin']) assert.ok((await readFile(join(target, name))).equals(await readFile(join(source, name))), name);
  // Restores keep times to the microsecond.
  assert.equal((await stat(join(target, 'note-7.txt'), { bigint: true })).mtimeNs / 1000n, (await stat(join(source, 'note-7.txt'), { bigint: true })).mtimeNs / 1000n);

  // One file edited, one in the way as a folder: if-changed rewrites the edit and leaves the rest.
  await writeFile(join(target, 'note-1.txt'), 'edited in the target');
  await utimes(join(target, 'note-1.txt'), new Date(0), new Date(0));
  await rm(join(target, 'note-2.txt'));
  await mkdir(join(target, 'note-2.txt'));
  const again = await restore(repository, { snapshot, path: source, target });
  assert.equal(again.filesRestored, 1);
  assert.equal(again.filesSkipped, 299);
  assert.deepEqual(
    again.problems.map((p) => [p.path.split('/').pop(), p.message]),
    [['note-2.txt', 'not restored: a folder with that name is in the way']],
  );
  assert.ok((await readFile(join(target, 'note-1.txt'))).equals(await readFile(join(source, 'note-1.txt'))));

  await writeFile(join(target, 'note-3.txt'), 'kept under never');
  const never = await restore(repository, { snapshot, path: source, target, overwrite: 'never' });
  assert.equal(never.filesRestored, 0);
  assert.equal(await readFile(join(target, 'note-3.txt'), 'utf8'), 'kept under never');
});

/** A local backend that counts reads of packs. */
class PackReadCounter extends LocalBackend {
  packReads = 0;
  packBytesRead = 0;

  override read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    if (handle.type === 'data') this.count(range);
    return super.read(handle, range);
  }

  override readInto(handle: ObjectHandle, range: ByteRange, into: Uint8Array): Promise<Uint8Array> {
    if (handle.type === 'data') this.count(range);
    return super.readInto(handle, range, into);
  }

  override readScattered(handle: ObjectHandle, offset: number, parts: readonly Uint8Array[]): Promise<void> {
    if (handle.type === 'data') this.count({ offset, length: parts.reduce((sum, part) => sum + part.byteLength, 0) });
    return super.readScattered(handle, offset, parts);
  }

  private count(range: ByteRange | undefined): void {
    this.packReads += 1;
    this.packBytesRead += range?.length ?? 0;
  }
}

test('small files of many folders are restored in batches that span folders, each pack range read once', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  // 120 folders of 5 small files: 600 chunks in one data pack (and the trees in another).
  for (let f = 0; f < 120; f++) {
    await mkdir(join(source, `folder-${f}`), { recursive: true });
    for (let i = 0; i < 5; i++) await writeFile(join(source, `folder-${f}`, `file-${i}`), seededBytes(`${f}/${i}`, 500 + 37 * i));
  }
  const made = await createTestRepository(t);
  // One file worker: the chunks lie in the pack in the walk's order. With two, their chunks interleave as
  // the threads happen to answer, and where the restore's batches then split (also a matter of timing),
  // two batches' ranges could share the bytes between their chunks: 449,764 bytes read of 441,423 in
  // one run of ten, ranges 0+174,050 and 138,650+162,250 overlapping.
  await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache'), workers: 1 });
  await made.repository.close();
  const backend = new PackReadCounter(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD);
  t.after(() => repository.close());
  const [snapshot] = await listSnapshots(repository);
  assert.ok(snapshot);
  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, path: source, target });
  assert.deepEqual(result.problems, []);
  assert.equal(result.filesRestored, 600);
  assertSameTree(await describeTree(target), await describeTree(source));
  // A batch per folder would read at least 120 times (plus the trees'); 600 files make 3 batches of a range
  // or two each, and the trees a window or two.
  assert.ok(backend.packReads <= 8, `${backend.packReads} pack reads for 120 folders`);
  // Each range once: the data and tree packs' bytes at most, where windows of 2 MiB re-read them.
  const packBytes = (await readdir(join(made.path, 'data'), { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(join(entry.parentPath ?? entry.path, entry.name)).size, 0);
  assert.ok(backend.packBytesRead <= packBytes, `${backend.packBytesRead} bytes read of ${packBytes} in packs`);
});

test('small files come back with their exact mode whatever the umask: set-user-ID, sticky, read-only, group-writable', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  // Into a new folder (files created where they belong) and into one that exists (created under a temporary name).
  const modes = [0o644, 0o755, 0o600, 0o640, 0o664, 0o666, 0o777, 0o444, 0o400, 0o000, 0o700, 0o4755, 0o2755, 0o1644, 0o6711];
  for (const mode of modes) {
    const path = join(source, `mode-${mode.toString(8)}`);
    await writeFile(path, `mode ${mode.toString(8)}\n`);
    await chmod(path, mode);
  }
  const { repository } = await createTestRepository(t);
  const { snapshot } = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache') });
  const before = process.umask(0o027);
  t.after(() => process.umask(before));
  for (const umask of [0o027, 0o022, 0o000]) {
    process.umask(umask);
    for (const existing of [false, true]) {
      const target = join(dir, `target-${umask.toString(8)}-${existing}`);
      if (existing) await mkdir(target);
      const restored = await restore(repository, { snapshot, path: source, target });
      assert.deepEqual(restored.problems, []);
      for (const mode of modes) {
        const name = `mode-${mode.toString(8)}`;
        assert.equal((statSync(join(target, name)).mode & 0o7777).toString(8), mode.toString(8), `${name} under umask ${umask.toString(8)}${existing ? ', folder existing' : ''}`);
      }
    }
  }
});
