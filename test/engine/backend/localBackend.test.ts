import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BackendError } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { PackBuffers } from '../../../src-main/engine/repository/packBuffers.js';
import { backendContract, collect, objectName, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
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

/** Bytes of `path` in the page cache (util-linux's fincore), or undefined where fincore is missing. */
function cachedBytes(path: string): number | undefined {
  const result = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.trim()) : undefined;
}

/** Whether the kernel takes O_DIRECT for files in `folder` (Linux, and a file system that has it). */
async function directWritesWork(folder: string): Promise<boolean> {
  const { O_DIRECT } = fsConstants as { O_DIRECT?: number };
  if (O_DIRECT === undefined) return false;
  const probe = join(folder, 'probe');
  try {
    await (await open(probe, fsConstants.O_WRONLY | fsConstants.O_CREAT | O_DIRECT, 0o600)).close();
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
  }
}

test('an uncached writer puts whole blocks from aligned memory on disk around the page cache, everything else through it, and the object is exact', async (t) => {
  const root = join(await tempDir(t), 'repo');
  const backend = new LocalBackend(root);
  await backend.create();
  const stages = new PackBuffers(2, 1024 * 1024);
  const aligned = [stages.take(1024 * 1024), stages.take(1024 * 1024)];
  aligned.forEach((stage, i) => seededBytes(`stage ${i}`, stage.length).copy(stage));
  // Whole blocks, but from ordinary memory, which is not page-aligned: O_DIRECT refuses it (EINVAL) and the cache takes it.
  const unaligned = Buffer.allocUnsafeSlow(256 * 1024);
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
  const uncachedInCache = cachedBytes(uncachedPath);
  const cachedInCache = cachedBytes(cachedPath);
  for (const number of [1, 2]) assert.ok((await backend.read(packHandle(number))).equals(Buffer.concat(parts)), `object ${number} differs from what was appended`);
  if (uncachedInCache === undefined || cachedInCache === undefined) {
    t.diagnostic('fincore (util-linux) is missing: which bytes skipped the page cache was not checked');
    return;
  }
  if (!(await directWritesWork(root))) {
    t.diagnostic('no O_DIRECT here (not Linux, or the file system refuses it): uncached writes went through the cache, as they should');
    return;
  }
  assert.ok(cachedInCache >= 2 * 1024 * 1024, `a cached write leaves its bytes in the page cache (${cachedInCache} bytes there)`);
  assert.ok(uncachedInCache <= 256 * 1024 + 8192, `only the unaligned piece and the tail may be cached, ${uncachedInCache} bytes are`);
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

