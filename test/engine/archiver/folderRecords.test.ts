import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, chmod, link, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { backup, type BackupOptions, type BackupResult } from '../../../src-main/engine/archiver/backup.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import { prune } from '../../../src-main/engine/maintenance/prune.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { findPath } from '../../../src-main/engine/snapshot/treePath.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../../helpers/fileTree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository, type TestRepository } from '../../helpers/testRepository.js';

/** Folders at and below `root`, the root included. */
async function foldersUnder(root: string): Promise<number> {
  let count = 1;
  for (const entry of await readdir(root, { withFileTypes: true })) if (entry.isDirectory()) count += await foldersUnder(join(root, entry.name));
  return count;
}

interface Setup {
  readonly dir: string;
  readonly source: string;
  readonly made: TestRepository;
  readonly folders: () => Promise<number>;
  /** A backup with the files cache (and so the folder records) of every earlier one. */
  readonly incremental: (options?: Partial<BackupOptions>) => Promise<BackupResult>;
  /**
   * What a backup that trusts nothing makes of the source as it is now: no parent (another host name), a
   * cache folder of its own. Its tree is the oracle for the incremental ones.
   */
  readonly fromScratch: (options?: Partial<BackupOptions>) => Promise<BackupResult>;
  /** The source folder's tree in a backup's snapshot (the folders above it hold this test's cache folders, which change). */
  readonly treeOf: (result: BackupResult) => Promise<string>;
}

async function setUp(t: TestContext): Promise<Setup> {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 1200, depth: 6 });
  await mkdir(join(source, 'docs', 'a', 'b'), { recursive: true });
  for (const [i, folder] of ['docs', 'docs/a', 'docs/a/b'].entries()) await writeFile(join(source, folder, `note${i}.txt`), `note ${i}\n`);
  const made = await createTestRepository(t);
  const cacheDir = join(dir, 'cache');
  let scratch = 0;
  return {
    dir,
    source,
    made,
    folders: () => foldersUnder(source),
    incremental: async (options = {}) => backup(await made.reopen(), { paths: [source], cacheDir, ...options }),
    treeOf: async ({ snapshot }) => {
      const found = await findPath(await made.reopen(), snapshot, source);
      assert.equal(found.kind, 'dir');
      return found.kind === 'dir' ? found.tree.toString('hex') : '';
    },
    fromScratch: async (options = {}) => {
      scratch += 1;
      return backup(await made.reopen(), { paths: [source], cacheDir: join(dir, `scratch-cache-${scratch}`), host: `scratch-${scratch}`, ...options });
    },
  };
}

test('a folder listed as the files cache recorded it is taken whole, with the tree a backup reading everything makes', async (t) => {
  const { source, made, folders, incremental, fromScratch, treeOf } = await setUp(t);
  const first = await incremental();
  assert.equal(first.foldersUnchanged, 0);

  const second = await incremental();
  const all = await folders();
  assert.equal(second.foldersUnchanged, all, 'every folder, the source itself included, is taken whole');
  assert.equal(await treeOf(second), await treeOf(first));
  assert.equal(second.snapshot.summary.filesRead, 0);
  for (const field of ['dirs', 'otherEntries', 'totalFiles', 'totalBytes'] as const) assert.equal(second.snapshot.summary[field], first.snapshot.summary[field], field);
  assert.equal(second.snapshot.summary.filesUnchanged, first.snapshot.summary.filesNew);

  // Each change alone, deep in the tree: the snapshot must be exactly what a backup trusting nothing makes,
  // and only the folders on the way from the change up to the source are looked at again.
  const changes: [string, () => Promise<unknown>][] = [
    ['content appended', () => appendFile(join(source, 'docs/a/b/note2.txt'), 'more\n')],
    ['times only', () => utimes(join(source, 'docs/a/note1.txt'), new Date('2021-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z'))],
    ['mode only', () => chmod(join(source, 'many/d1/f700.txt'), 0o600)],
    ['an attribute only', async () => execFileSync('setfattr', ['-n', 'user.tag', '-v', 'red', join(source, 'docs/a/b/note2.txt')])],
    ['a file added', () => writeFile(join(source, 'n0/n1/n2/new.txt'), 'new\n')],
    ['a folder renamed', () => rename(join(source, 'docs/a/b'), join(source, 'docs/a/c'))],
    ['a folder removed', () => rm(join(source, 'empty-dir'), { recursive: true })],
  ];
  for (const [change, make] of changes) {
    await make();
    const next = await incremental();
    const oracle = await fromScratch();
    assert.equal(await treeOf(next), await treeOf(oracle), change);
    const now = await folders();
    assert.ok(next.foldersUnchanged > 0 && next.foldersUnchanged < now, `${change}: ${next.foldersUnchanged} of ${now} folders taken whole`);
    assert.equal(next.snapshot.summary.totalFiles, oracle.snapshot.summary.totalFiles, change);
    assert.equal(next.snapshot.summary.totalBytes, oracle.snapshot.summary.totalBytes, change);
  }

  // Other settings make other trees from the same listings: no record made under the old ones is used.
  const excluded = await incremental({ excludes: { patterns: ['*.txt'] } });
  assert.equal(excluded.foldersUnchanged, 0);
  assert.equal(await treeOf(excluded), await treeOf(await fromScratch({ excludes: { patterns: ['*.txt'] } })));
  const withoutAttributes = await incremental({ excludes: { patterns: ['*.txt'] }, xattrs: false });
  assert.equal(withoutAttributes.foldersUnchanged, 0);
  assert.equal(await treeOf(withoutAttributes), await treeOf(await fromScratch({ excludes: { patterns: ['*.txt'] }, xattrs: false })));

  const target = join(await tempDir(t), 'restored');
  const last = await incremental();
  await restore(await made.reopen(), { snapshot: last.snapshot, target });
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
});

test('in a folder that changed, the files as they were are taken from the parent snapshot\'s tree as they were, and any change to one is seen', async (t) => {
  const { dir, source, made, incremental, fromScratch, treeOf } = await setUp(t);
  const flat = join(source, 'flat');
  await mkdir(flat);
  for (let i = 0; i < 300; i++) await writeFile(join(flat, `f${String(i).padStart(3, '0')}.txt`), `file ${i}\n`);
  const first = await incremental();
  assert.equal(first.filesReused, 0);
  // Each change alone in a folder of 300 files; the backup's tree must be exactly what one trusting nothing makes.
  const changes: [string, () => Promise<unknown>][] = [
    [
      'content rewritten at the same size, its modification time put back',
      async () => {
        const path = join(flat, 'f010.txt');
        const before = await stat(path);
        await writeFile(path, 'FILE 10\n');
        await utimes(path, before.atime, before.mtime);
      },
    ],
    [
      'replaced by another file of the same size and times',
      async () => {
        const path = join(flat, 'f020.txt');
        const before = await stat(path);
        const other = join(dir, 'other.txt');
        await writeFile(other, 'FILE 20\n');
        await utimes(other, before.atime, before.mtime);
        await rename(other, path);
      },
    ],
    ['mode only', () => chmod(join(flat, 'f030.txt'), 0o600)],
    ['a second name elsewhere (a hard link)', () => link(join(flat, 'f040.txt'), join(source, 'docs', 'f040-link.txt'))],
    ['a file added', () => writeFile(join(flat, 'new.txt'), 'new\n')],
    ['a file removed', () => rm(join(flat, 'f050.txt'))],
  ];
  for (const [change, make] of changes) {
    await make();
    const next = await incremental();
    const oracle = await fromScratch();
    assert.equal(await treeOf(next), await treeOf(oracle), change);
    assert.ok(next.filesReused >= 290, `${change}: ${next.filesReused} files taken as they were`);
    assert.equal(next.snapshot.summary.totalFiles, oracle.snapshot.summary.totalFiles, change);
    assert.equal(next.snapshot.summary.totalBytes, oracle.snapshot.summary.totalBytes, change);
  }
  const target = join(await tempDir(t), 'restored');
  const last = await incremental();
  await restore(await made.reopen(), { snapshot: last.snapshot, target });
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
});

test('a record counts only for the parent snapshot\'s tree: after that snapshot is forgotten and pruned, its folders are read again', async (t) => {
  const { source, made, incremental, fromScratch, treeOf } = await setUp(t);
  const first = await incremental();
  // The second snapshot's records name trees that only it holds; forgetting it makes the first the parent again.
  await writeFile(join(source, 'docs/a/b/note2.txt'), 'rewritten, once\n');
  const forgotten = await incremental();
  const forgottenTree = await treeOf(forgotten);
  await made.repository.backend.delete({ type: 'snapshots', name: forgotten.snapshot.id });
  await prune(await made.reopen());
  const pruned = await made.reopen();
  assert.ok(!pruned.hasBlob(Buffer.from(forgottenTree, 'hex')), 'prune removed the forgotten source tree');

  const next = await incremental();
  assert.equal(next.snapshot.parent, first.snapshot.id);
  // Checked before the backup from scratch, which would store again any tree the incremental one named but lacked.
  const checked = await checkRepository(await made.reopen(), { readData: { kind: 'all' } });
  assert.deepEqual(checked.errors, []);
  assert.equal(await treeOf(next), await treeOf(await fromScratch()));
});

test('a folder that gave a warning is looked at again every time, and warns again', async (t) => {
  const { source, incremental, treeOf } = await setUp(t);
  const socket = join(source, 'docs/a/app.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const first = await incremental();
  const second = await incremental();
  for (const run of [first, second]) assert.deepEqual(run.warnings.map((w) => w.path), [socket]);
  // The other folders are taken whole; docs/a and the folders above it are not.
  assert.ok(second.foldersUnchanged > 0);
  assert.equal(await treeOf(second), await treeOf(first));
});
