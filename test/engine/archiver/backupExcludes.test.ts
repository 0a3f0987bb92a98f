import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_EXCLUDES } from '../../../src-shared/defaultExcludes.js';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { ExcludeRules } from '../../../src-main/engine/archiver/excludes.js';
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

test('an entry of the parent snapshot is matched again only when the excludes changed or it changed kind; otherwise it is known to pass', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'src');
  const work = join(source, 'work');
  await mkdir(work, { recursive: true });
  for (let i = 0; i < 50; i++) await writeFile(join(work, `file${i}.${i % 5 === 0 ? 'log' : 'txt'}`), `content ${i}`);
  await writeFile(join(work, 'out'), 'a file named out');
  const { repository } = await createTestRepository(t);
  const matched = t.mock.method(ExcludeRules.prototype, 'matchPath');
  const run = async (patterns: string[], change: () => Promise<void>) => {
    await change();
    matched.mock.resetCalls();
    const { snapshot } = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache'), excludes: { patterns } });
    return { paths: await pathsIn(repository, snapshot, source), matches: matched.mock.callCount() };
  };
  // A new file in work/ each time: the folder is listed and its entries saved again, not taken whole.
  let step = 0;
  const touchWork = () => writeFile(join(work, `new${step++}.txt`), 'new');

  const first = await run(['out/'], touchWork);
  assert.ok(first.paths.includes('work/out') && first.paths.includes('work/file0.log'), 'a file named out is no folder');
  // Same excludes: the 52 entries the parent holds pass without being matched; only the new file is.
  const same = await run(['out/'], touchWork);
  assert.deepEqual(same.paths, [...first.paths, 'work/new1.txt'].sort());
  assert.equal(same.matches, 1);
  // Other excludes: everything is matched again, and the .log files go.
  const other = await run(['out/', '*.log'], touchWork);
  assert.ok(other.matches >= 53, `${other.matches} matches`);
  assert.ok(!other.paths.some((path) => path.endsWith('.log')) && other.paths.includes('work/file1.txt'));
  // The same name as another kind: out is now a folder, which 'out/' excludes, though the parent held it.
  const kind = await run(['out/', '*.log'], async () => {
    await rm(join(work, 'out'));
    await mkdir(join(work, 'out'));
    await writeFile(join(work, 'out', 'inside.txt'), 'excluded with its folder');
  });
  assert.ok(!kind.paths.some((path) => path.startsWith('work/out')), kind.paths.join(' '));
  assert.ok(kind.paths.includes('work/file1.txt'));
});
