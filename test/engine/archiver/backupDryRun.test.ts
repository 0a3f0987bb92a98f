import { isDeepStrictEqual } from 'node:util';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, open, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { backup, dryRunBackup } from '../../../src-main/engine/archiver/backup.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import type { Repository } from '../../../src-main/engine/repository/repository.js';
import { seededBytes } from '../../helpers/data.js';
import { assertSameTree, describeTree } from '../../helpers/fileTree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

const MiB = 1024 * 1024;

/**
 * A source folder under /var/tmp rather than /tmp. The trees above a source record its ancestors' times,
 * and /tmp's change whenever another test makes a folder there: between a dry run and the backup it is
 * compared with, the root tree (and so the bytes added) could differ by a byte or two for that alone.
 */
async function sourceFolder(t: TestContext): Promise<string> {
  const dir = await mkdtemp('/var/tmp/hindsight-dry-run-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function blobIds(repository: Repository): Set<string> {
  return new Set([...repository.index.blobs()].map((blob) => blob.id.toString('hex')));
}

test('a dry run reads and chunks what a backup would, writes nothing, and counts exactly what the backup then adds', async (t) => {
  const source = join(await sourceFolder(t), 'source');
  const cacheDir = join(await tempDir(t), 'cache');
  await mkdir(join(source, 'docs'), { recursive: true });
  for (let i = 0; i < 200; i++) await writeFile(join(source, 'docs', `small-${i}`), `small file ${i}\n`);
  await writeFile(join(source, 'big'), seededBytes('big', 6 * MiB));
  const made = await createTestRepository(t);
  const first = await backup(made.repository, { paths: [source], cacheDir });

  // A changed file (a region of big rewritten), one touched but the same, new files with new content,
  // one new file whose content the repository has, and a new folder.
  const big = await open(join(source, 'big'), 'r+');
  await big.write(seededBytes('rewritten', 100 * 1024), 0, 100 * 1024, 3 * MiB);
  await big.close();
  await utimes(join(source, 'docs', 'small-2'), new Date(), new Date(Date.now() - 3600_000));
  await writeFile(join(source, 'new'), seededBytes('new', 2 * MiB));
  await writeFile(join(source, 'docs', 'copy-of-small-1'), 'small file 1\n');
  await mkdir(join(source, 'added'));
  for (let i = 0; i < 10; i++) await writeFile(join(source, 'added', `file-${i}`), seededBytes(`added-${i}`, 10 * 1024));

  const ancestors = async () => Promise.all(['/var', '/var/tmp'].map(async (path) => [(await lstat(path)).mtimeMs, (await lstat(path)).ctimeMs]));
  const ancestorTimes = await ancestors();
  // Another process's exclusive lock (a prune) does not stop a dry run: it takes none.
  const pruning = await (await made.reopen()).lock(true);
  const storedBefore = await describeTree(made.path);
  const idsBefore = blobIds(made.repository);
  const dry = await dryRunBackup(made.repository, { paths: [source], cacheDir });
  assertSameTree(await describeTree(made.path), storedBefore);

  assert.equal(dry.parent, first.snapshot.id);
  const s = dry.summary;
  assert.deepEqual(
    { filesNew: s.filesNew, filesChanged: s.filesChanged, filesUnchanged: s.filesUnchanged, filesRead: s.filesRead, dirs: s.dirs },
    { filesNew: 12, filesChanged: 2, filesUnchanged: 199, filesRead: 14, dirs: first.snapshot.summary.dirs + 1 },
  );
  assert.equal(s.bytesRead, 6 * MiB + 2 * MiB + 10 * 10 * 1024 + 'small file 2\n'.length + 'small file 1\n'.length);
  // New content: the rewritten region's chunk or two, the new file's (one or more: boundaries depend on the key), the ten in the new folder.
  assert.ok(s.dataBlobsAdded >= 1 + 1 + 10, `${s.dataBlobsAdded} chunks`);
  assert.ok(dry.rawBytesAdded > 2 * MiB + 100 * 1024 && dry.rawBytesAdded < 2 * MiB + 8 * MiB, `${dry.rawBytesAdded} bytes`);

  // The same repository object backs up next, as the agent's would: the dry run's reservations are gone.
  await pruning.release();
  const real = await backup(made.repository, { paths: [source], cacheDir });
  // The folders above the source are in the snapshot too: another process creating a file in /var/tmp
  // between the two runs changes their trees, and then only the data is compared exactly.
  const stable = isDeepStrictEqual(await ancestors(), ancestorTimes);
  if (!stable) t.diagnostic('a folder above the source changed between the two runs: tree blobs not compared');
  const comparable = ({ durationMs: _, treeBlobsAdded, bytesAdded, ...rest }: typeof dry.summary) => (stable ? { treeBlobsAdded, bytesAdded, ...rest } : rest);
  // The files cache learnt nothing from the dry run, or the backup would have read fewer files.
  assert.deepEqual(comparable(dry.summary), comparable(real.snapshot.summary));
  const reopened = await made.reopen();
  const newBlobs = [...reopened.index.blobs()].filter((blob) => !idsBefore.has(blob.id.toString('hex')) && (stable || blob.type === 'data'));
  assert.equal(newBlobs.length, s.dataBlobsAdded + (stable ? s.treeBlobsAdded : 0));
  if (stable) {
    assert.equal(
      newBlobs.reduce((sum, blob) => sum + blob.rawLength, 0),
      dry.rawBytesAdded,
    );
    assert.equal(
      newBlobs.reduce((sum, blob) => sum + blob.length, 0),
      s.bytesAdded,
    );
  }
  assert.deepEqual((await checkRepository(reopened, { readData: { kind: 'all' } })).errors, []);

  // Nothing changed since: the files cache and the parent snapshot answer, and no file is read.
  const again = await dryRunBackup(made.repository, { paths: [source], cacheDir });
  assert.equal(again.parent, real.snapshot.id);
  assert.equal(again.summary.filesRead, 0);
  assert.equal(again.summary.bytesRead, 0);
  assert.equal(again.summary.dataBlobsAdded, 0);
  assert.equal(again.summary.filesUnchanged, real.snapshot.summary.totalFiles);
});

test('a dry run stopped part-way says so and leaves the repository as it was', async (t) => {
  const source = join(await tempDir(t), 'source');
  await mkdir(source);
  // Eight files of four chunks or so: the first chunk's progress, where the run stops, comes long before the last.
  for (let i = 0; i < 8; i++) await writeFile(join(source, `file-${i}`), seededBytes(`file-${i}`, 4 * MiB));
  const made = await createTestRepository(t);
  const storedBefore = await describeTree(made.path);
  const controller = new AbortController();
  const dry = dryRunBackup(made.repository, {
    paths: [source],
    cacheDir: join(await tempDir(t), 'cache'),
    signal: controller.signal,
    // The first progress is reported with the first chunk read.
    onProgress: (progress) => {
      if (progress.bytesDone > 0) controller.abort();
    },
  });
  await assert.rejects(dry, { code: 'E_INTERRUPTED', message: /dry run was stopped.*nothing was written/ });
  assertSameTree(await describeTree(made.path), storedBefore);
  // Nothing it reserved is taken as stored afterwards: a chunk left out would be missing from the index.
  const { snapshot } = await backup(made.repository, { paths: [source], cacheDir: join(await tempDir(t), 'cache') });
  assert.equal(snapshot.summary.filesNew, 8);
  assert.deepEqual((await checkRepository(await made.reopen(), { readData: { kind: 'all' } })).errors, []);
});
