import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_EXCLUDES } from '../../../src-shared/defaultExcludes.js';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import type { Repository } from '../../../src-main/engine/repository/repository.js';
import type { Snapshot } from '../../../src-main/engine/snapshot/snapshot.js';
import { findPath } from '../../../src-main/engine/snapshot/treePath.js';
import { TreeLoader } from '../../../src-main/engine/snapshot/treeLoader.js';
import { walkTree } from '../../../src-main/engine/snapshot/walkTree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

async function pathsIn(repository: Repository, snapshot: Snapshot, source: string): Promise<string[]> {
  const start = await findPath(repository, snapshot, source);
  assert.equal(start.kind, 'dir');
  const paths: string[] = [];
  for await (const { path } of walkTree(new TreeLoader(repository), start.kind === 'dir' ? start.tree : Buffer.alloc(0), Buffer.alloc(0))) paths.push(path.toString().slice(1));
  return paths.sort();
}

test('patterns, cache folders, size limits and the defaults decide what is saved', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'home');
  await mkdir(join(source, 'project', 'build'), { recursive: true });
  await mkdir(join(source, 'project', 'node_modules', 'x'), { recursive: true });
  await mkdir(join(source, 'tool-cache', 'objects'), { recursive: true });
  await mkdir(join(source, '.Trash-1000', 'files'), { recursive: true });
  await writeFile(join(source, 'project', 'main.c'), 'int main;');
  await writeFile(join(source, 'project', 'debug.log'), 'noise');
  await writeFile(join(source, 'project', 'build', 'main.o'), 'object');
  await writeFile(join(source, 'project', 'node_modules', 'x', 'index.js'), 'kept by default');
  await writeFile(join(source, 'tool-cache', 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n');
  await writeFile(join(source, 'tool-cache', 'objects', 'blob'), 'cached');
  await writeFile(join(source, '.Trash-1000', 'files', 'deleted.txt'), 'thrown away');
  await writeFile(join(source, '.DS_Store'), 'finder');
  await writeFile(join(source, 'huge.iso'), Buffer.alloc(200_000));
  const { repository } = await createTestRepository(t);
  const { snapshot } = await backup(repository, {
    paths: [source],
    cacheDir: join(dir, 'cache'),
    excludes: { patterns: [...DEFAULT_EXCLUDES, '*.log', 'build/'], excludeCaches: true, excludeLargerThan: 100_000 },
  });
  assert.deepEqual(await pathsIn(repository, snapshot, source), [
    'project',
    'project/main.c',
    'project/node_modules',
    'project/node_modules/x',
    'project/node_modules/x/index.js',
    'tool-cache',
    'tool-cache/CACHEDIR.TAG',
  ]);
  assert.equal(snapshot.summary.totalFiles, 3);
});

test('--one-file-system keeps a mount point as an empty folder', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hindsight-ofs-'));
  const source = join(dir, 'root');
  await mkdir(join(source, 'mnt'), { recursive: true });
  await writeFile(join(source, 'local.txt'), 'on the same disk');
  const mountPoint = join(source, 'mnt');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch {
    await rm(dir, { recursive: true, force: true });
    t.skip('cannot mount a tmpfs here; needs root');
    return;
  }
  // One hook, in order: unmount, then remove the folder that held the mount point.
  t.after(async () => {
    execFileSync('umount', ['-l', mountPoint]);
    await rm(dir, { recursive: true, force: true });
  });
  await writeFile(join(mountPoint, 'other-disk.txt'), 'elsewhere');
  const { repository } = await createTestRepository(t);
  const cacheDir = await mkdtemp(join(tmpdir(), 'hindsight-cache-'));
  t.after(() => rm(cacheDir, { recursive: true, force: true }));
  const across = await backup(repository, { paths: [source], cacheDir });
  assert.deepEqual(await pathsIn(repository, across.snapshot, source), ['local.txt', 'mnt', 'mnt/other-disk.txt']);
  const within = await backup(repository, { paths: [source], cacheDir, oneFileSystem: true });
  assert.deepEqual(await pathsIn(repository, within.snapshot, source), ['local.txt', 'mnt']);
});
