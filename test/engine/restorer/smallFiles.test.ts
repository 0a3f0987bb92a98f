import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

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
