import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BackendError } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { BufferPool } from '../../../src-main/engine/bufferPool.js';
import { backendContract, collect, objectName, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
import { cachedBytes, pageCacheUncheckable } from '../../helpers/pageCache.js';
import { tempDir } from '../../helpers/tempDir.js';
import { assertSweepsTemporaryFiles } from '../../helpers/temporaryFiles.js';
import { tmpfsDir } from '../../helpers/tmpfs.js';

const name = objectName;

backendContract('local', async (t) => new LocalBackend(join(await tempDir(t), 'repo')), { piecewise: true });


test('list never shows temporary files of unfinished writes or foreign files', async (t) => {
  const root = join(await tempDir(t), 'repo');
  const backend = new LocalBackend(root);
  await backend.create();
  await writeFile(join(root, 'data', '00', '.tmp-deadbeef'), 'half a pack');
  await writeFile(join(root, 'index', 'notes.txt'), 'hello');
  await mkdir(join(root, 'data', 'zz'));
  assert.deepEqual(await collect(backend.list('data')), []);
  assert.deepEqual(await collect(backend.list('index')), []);
  await backend.write(packHandle(3), Buffer.from('x'));
  assert.deepEqual((await readdir(join(root, 'data', '00'))).sort(), ['.tmp-deadbeef', name(3)]);
});

test('temporary files of unfinished writes are found, removed unless a dry run, and locks/ is left alone', async (t) => {
  const root = join(await tempDir(t), 'repo');
  await assertSweepsTemporaryFiles(new LocalBackend(root), root);
});

test('an uncached writer puts whole blocks from aligned memory on disk around the page cache, everything else through it, and the object is exact', async (t) => {
  const root = join(await tempDir(t), 'repo');
  const backend = new LocalBackend(root);
  await backend.create();
  const stages = new BufferPool(3, 1024 * 1024);
  const aligned = [stages.take(1024 * 1024), stages.take(1024 * 1024)];
  aligned.forEach((stage, i) => seededBytes(`stage ${i}`, stage.length).copy(stage));
  // Whole blocks, but one byte past a page boundary: O_DIRECT refuses them (EINVAL) and the cache takes them.
  const unaligned = stages.take(1024 * 1024).subarray(1, 1 + 256 * 1024);
  seededBytes('unaligned', unaligned.length).copy(unaligned);
  const parts = [aligned[0], aligned[1], unaligned, seededBytes('tail', 1000)] as Buffer[];
  const write = async (number: number, uncached: boolean) => {
    const writer = backend.createWriter(packHandle(number), { uncached });
    for (const part of parts) await writer.append(part);
    await writer.commit();
    return join(root, 'data', '00', name(number));
  };
  const uncachedPath = await write(1, true);
  const cachedPath = await write(2, false);
  const uncachedInCache = cachedBytes(uncachedPath) ?? 0;
  const cachedInCache = cachedBytes(cachedPath) ?? 0;
  for (const number of [1, 2]) assert.ok((await backend.read(packHandle(number))).equals(Buffer.concat(parts)), `object ${number} differs from what was appended`);
  const uncheckable = await pageCacheUncheckable(root);
  if (uncheckable) {
    t.diagnostic(`${uncheckable}: the contents were checked, not which bytes skipped the page cache`);
    return;
  }
  assert.ok(cachedInCache >= 2 * 1024 * 1024, `a cached write leaves its bytes in the page cache (${cachedInCache} bytes there)`);
  assert.ok(uncachedInCache >= 256 * 1024 && uncachedInCache <= 256 * 1024 + 8192, `the unaligned piece and the tail are cached, nothing else: ${uncachedInCache} bytes are`);
});

test('a missing target says to connect the disk', async (t) => {
  const backend = new LocalBackend(join(await tempDir(t), 'unplugged-disk'));
  const expected = { code: 'E_TARGET_MISSING', message: /does not exist\. If it is on an external disk, connect and mount the disk\./ };
  await assert.rejects(backend.read({ type: 'config', name: 'config' }), expected);
  await assert.rejects(backend.write(packHandle(1), Buffer.from('x')), expected);
  await assert.rejects(collect(backend.list('index')), expected);
});

test('a full target fails with "target is full" and leaves no partial object', async (t) => {
  const mountPoint = await tmpfsDir(t, 'size=256k');
  if (!mountPoint) return;
  const backend = new LocalBackend(join(mountPoint, 'repo'));
  await backend.create();
  await backend.write(packHandle(1), seededBytes('fits', 64 * 1024));
  await assert.rejects(backend.write(packHandle(2), seededBytes('too big', 512 * 1024)), (err: BackendError) => {
    assert.equal(err.code, 'E_NO_SPACE');
    assert.match(err.message, /is full\. Free some space/);
    return true;
  });
  assert.deepEqual((await collect(backend.list('data'))).map((o) => o.name), [name(1)]);
  assert.deepEqual(await readdir(join(mountPoint, 'repo', 'data', '00')), [name(1)], 'the temporary file must be removed');
  assert.deepEqual(await backend.read(packHandle(1)), seededBytes('fits', 64 * 1024));
  // Written piece by piece: the append that finds the disk full fails the same way, and the partly written file goes.
  const writer = backend.createWriter(packHandle(3));
  await writer.append(seededBytes('first piece', 32 * 1024));
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 16; i++) await writer.append(seededBytes(`piece ${i}`, 32 * 1024));
    })(),
    { code: 'E_NO_SPACE' },
  );
  await writer.abort();
  assert.deepEqual(await readdir(join(mountPoint, 'repo', 'data', '00')), [name(1)], 'the temporary file must be removed');
  // Once space is freed the same write succeeds.
  await backend.delete(packHandle(1));
  await backend.write(packHandle(2), seededBytes('now fits', 128 * 1024));
  assert.deepEqual(await backend.read(packHandle(2)), seededBytes('now fits', 128 * 1024));
});

test('a read-only target fails with a clear error', async (t) => {
  const mountPoint = await tmpfsDir(t, 'size=1m');
  if (!mountPoint) return;
  const backend = new LocalBackend(join(mountPoint, 'repo'));
  await backend.create();
  execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
  await assert.rejects(backend.write(packHandle(1), Buffer.from('x')), { code: 'E_PERMISSION', message: /read-only/ });
});

