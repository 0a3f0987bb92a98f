import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { BackendError, type ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';

const name = (n: number) => n.toString(16).padStart(64, '0');
const packHandle = (n: number): ObjectHandle => ({ type: 'data', name: name(n) });

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** A fresh folder with a small tmpfs mounted on it (root only), or undefined with the test marked skipped. */
async function tmpfsDir(t: TestContext, options: string): Promise<string | undefined> {
  const where = await mkdtemp(join(tmpdir(), 'hindsight-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', where], { stdio: 'pipe' });
  } catch (err) {
    await rm(where, { recursive: true });
    t.skip(`cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root`);
    return undefined;
  }
  t.after(async () => {
    execFileSync('umount', ['-l', where]);
    await rm(where, { recursive: true });
  });
  return where;
}

test('write, read (whole and ranges), stat, list and delete', async (t) => {
  const backend = new LocalBackend(join(await tempDir(t), 'repo'));
  await backend.create();
  const data = seededBytes('obj', 100_000);
  await backend.write(packHandle(1), data);
  await backend.write({ type: 'index', name: name(2) }, Buffer.from('index'));
  await backend.write({ type: 'config', name: 'config' }, Buffer.from('config'));
  assert.deepEqual(await backend.read(packHandle(1)), data);
  assert.deepEqual(await backend.read(packHandle(1), { offset: 99_990, length: 10 }), data.subarray(99_990));
  assert.deepEqual(await backend.read(packHandle(1), { offset: 5, length: 0 }), Buffer.alloc(0));
  assert.deepEqual(await backend.stat(packHandle(1)), { name: name(1), size: 100_000 });
  assert.deepEqual(await collect(backend.list('data')), [{ name: name(1), size: 100_000 }]);
  assert.deepEqual(await collect(backend.list('config')), [{ name: 'config', size: 6 }]);
  assert.deepEqual(await collect(backend.list('snapshots')), []);
  // Writing an existing name replaces it.
  await backend.write({ type: 'config', name: 'config' }, Buffer.from('config2'));
  assert.equal((await backend.read({ type: 'config', name: 'config' })).toString(), 'config2');
  await backend.delete(packHandle(1));
  await backend.delete(packHandle(1));
  assert.deepEqual(await collect(backend.list('data')), []);
});

test('reads past the end and of missing objects fail with named errors', async (t) => {
  const backend = new LocalBackend(join(await tempDir(t), 'repo'));
  await backend.create();
  await backend.write(packHandle(1), Buffer.alloc(10));
  await assert.rejects(backend.read(packHandle(1), { offset: 5, length: 6 }), { code: 'E_INVALID_RANGE', message: /only 10 bytes/ });
  await assert.rejects(backend.read(packHandle(9)), { code: 'E_NOT_FOUND' });
  await assert.rejects(backend.stat(packHandle(9)), { code: 'E_NOT_FOUND' });
  await assert.rejects(backend.read({ type: 'data', name: '../../etc/passwd' }), { code: 'E_INVALID_NAME' });
});

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

test('creating over an existing repository is refused', async (t) => {
  const backend = new LocalBackend(join(await tempDir(t), 'repo'));
  await backend.create();
  await backend.write({ type: 'config', name: 'config' }, Buffer.from('c'));
  await assert.rejects(backend.create(), { code: 'E_ALREADY_EXISTS', message: /already a Hindsight repository/ });
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

test('an object given in parts is written back to back', async (t) => {
  const backend = new LocalBackend(join(await tempDir(t), 'repo'));
  await backend.create();
  const parts = [seededBytes('a', 1000), Buffer.alloc(0), seededBytes('b', 70_000), seededBytes('c', 1)];
  await backend.write(packHandle(7), parts);
  assert.deepEqual(await backend.read(packHandle(7)), Buffer.concat(parts));
});
