import assert from 'node:assert/strict';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

const MiB = 1024 * 1024;

test('a sparse file (data between long runs of zeros) is backed up as one chunk of zeros and restored byte for byte, with holes', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const path = join(source, 'disk.img');
  // Made sparse itself: data written at places, the rest holes, ending in one.
  const size = 90 * MiB + 7;
  const pieces = [
    { at: 0, data: seededBytes('boot', 100_000) },
    { at: 40 * MiB + 3, data: seededBytes('middle', 1000) },
    { at: 64 * MiB, data: seededBytes('late', 5) },
  ];
  await mkdir(source);
  const file = await open(path, 'wx');
  for (const { at, data } of pieces) await file.write(data, 0, data.length, at);
  await file.truncate(size);
  await file.close();

  const { repository } = await createTestRepository(t);
  const { snapshot } = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache') });
  // The zeros between the data are cut into chunks of the largest size (8 MiB), all one chunk; plus the
  // chunks that hold data and the file's last.
  assert.ok(snapshot.summary.dataBlobsAdded <= 8, `${snapshot.summary.dataBlobsAdded} chunks stored`);

  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target });
  assert.deepEqual(result.problems, []);
  const restored = join(target, path);
  const expected = Buffer.alloc(size);
  for (const { at, data } of pieces) data.copy(expected, at);
  assert.ok((await readFile(restored)).equals(expected), 'the restored file differs');
  const allocated = (await stat(restored)).blocks * 512;
  // Only the chunks that hold data are written (up to 8 MiB each, with their zeros); every chunk of zeros is a hole.
  assert.ok(allocated <= 3 * 8 * MiB + MiB, `${allocated} bytes allocated for ${size}`);
  assert.ok(allocated < size / 3, `${allocated} bytes allocated for ${size}`);
});
