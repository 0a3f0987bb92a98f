import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Backend } from '../../src-main/engine/backend/backend.js';
import { collect, packHandle } from './backendContract.js';

/**
 * `backend` keeps its repository in the local folder `root` (a local disk, or sshd's on 127.0.0.1):
 * temporary files planted as killed writes leave them are found by a dry run, removed by a sweep, and
 * objects and a lock file being written are left alone.
 */
export async function assertSweepsTemporaryFiles(backend: Backend, root: string): Promise<void> {
  assert.ok(backend.sweepTemporaryFiles);
  await backend.create();
  await backend.write(packHandle(1), Buffer.from('a whole pack'));
  await writeFile(join(root, 'data', '00', '.tmp-0000000000000001'), Buffer.alloc(1000, 1));
  await writeFile(join(root, 'data', 'ff', '.tmp-0000000000000002'), Buffer.alloc(24, 2));
  await writeFile(join(root, 'index', '.tmp-0000000000000003'), Buffer.alloc(100, 3));
  await writeFile(join(root, 'locks', '.tmp-0000000000000004'), 'a lock being written');
  const temporary = async () => (await readdir(root, { recursive: true })).filter((path) => path.includes('.tmp-')).sort();

  assert.deepEqual(await backend.sweepTemporaryFiles(true), { files: 3, bytes: 1124 });
  assert.equal((await temporary()).length, 4, 'a dry run deletes nothing');
  assert.deepEqual(await backend.sweepTemporaryFiles(false), { files: 3, bytes: 1124 });
  assert.deepEqual(await temporary(), [join('locks', '.tmp-0000000000000004')]);
  assert.deepEqual((await collect(backend.list('data'))).map((o) => o.size), [12]);
  assert.deepEqual(await backend.sweepTemporaryFiles(false), { files: 0, bytes: 0 });
}
