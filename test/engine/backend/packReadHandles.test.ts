import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { nodeFileSystem, type LocalFile, type LocalFileSystem } from '../../../src-main/engine/backend/localFileSystem.js';
import { objectName, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';

/** Node's file system, counting the files (not folders) opened for reading and how many of them are open now. */
function countingFileSystem(): LocalFileSystem & { opened: number; openNow: number } {
  const counts = { opened: 0, openNow: 0 };
  return Object.assign(counts, {
    ...nodeFileSystem,
    async open(path: string, flags: string | number, mode?: number): Promise<LocalFile> {
      const file = await nodeFileSystem.open(path, flags, mode);
      if (typeof flags === 'string' || (flags & 3) !== 0 || (flags & constants.O_DIRECTORY) !== 0) return file;
      counts.opened += 1;
      counts.openNow += 1;
      let closed = false;
      return Object.assign(Object.create(file) as LocalFile, {
        read: file.read.bind(file),
        stat: file.stat.bind(file),
        close: async () => {
          if (!closed) counts.openNow -= 1;
          closed = true;
          await file.close();
        },
      });
    },
  });
}

test('reads of a pack share one open handle; at most 16 packs stay open, none once idle or closed; each read is exact', async (t) => {
  const fs = countingFileSystem();
  const backend = new LocalBackend(join(await tempDir(t), 'repo'), fs);
  await backend.create();
  const contents = Array.from({ length: 20 }, (_, i) => seededBytes(`pack ${i}`, 100_000));
  for (const [i, bytes] of contents.entries()) await backend.write(packHandle(i), bytes);

  // 50 ranges of one pack, 10 at a time: one open.
  const ranges = Array.from({ length: 50 }, (_, i) => ({ offset: i * 1999, length: 1000 + i }));
  for (let i = 0; i < ranges.length; i += 10) {
    const read = await Promise.all(ranges.slice(i, i + 10).map((range) => backend.read(packHandle(0), range)));
    read.forEach((bytes, j) => assert.ok(bytes.equals(contents[0]!.subarray(ranges[i + j]!.offset, ranges[i + j]!.offset + ranges[i + j]!.length))));
  }
  assert.equal(fs.opened, 1);
  // Twenty packs read in turn: the oldest are closed to keep 16 open.
  for (const [i, bytes] of contents.entries()) assert.ok((await backend.read(packHandle(i))).equals(bytes));
  assert.equal(fs.openNow, 16);
  // Two seconds without a read close them all (the sweep runs every two seconds).
  await sleep(4500);
  assert.equal(fs.openNow, 0);
  assert.ok((await backend.read(packHandle(3), { offset: 10, length: 10 })).equals(contents[3]!.subarray(10, 20)));
  assert.equal(fs.openNow, 1);
  await backend.close();
  assert.equal(fs.openNow, 0);
});

test('a pack deleted or replaced through the backend is read as it is now, not through the handle kept for it', async (t) => {
  const root = join(await tempDir(t), 'repo');
  const backend = new LocalBackend(root);
  await backend.create();
  await backend.write(packHandle(1), Buffer.from('first'));
  assert.equal((await backend.read(packHandle(1))).toString(), 'first');
  await backend.write(packHandle(1), Buffer.from('second'));
  assert.equal((await backend.read(packHandle(1))).toString(), 'second');
  await backend.delete(packHandle(1));
  await assert.rejects(backend.read(packHandle(1)), { code: 'E_NOT_FOUND' });
  // A pack that was missing is looked for again at the next read.
  const path = join(root, 'data', objectName(1).slice(0, 2), objectName(1));
  await writeFile(`${path}.new`, 'third');
  await rename(`${path}.new`, path);
  assert.equal((await backend.read(packHandle(1))).toString(), 'third');
  await backend.close();
});
