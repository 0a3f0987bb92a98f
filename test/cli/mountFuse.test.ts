import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isMounted } from '../../src-main/engine/mount/rcloneMount.js';
import { seededBytes } from '../helpers/data.js';
import { BIG, davRemoteEnv, fuseUnavailable, sourceAndRepository, startMount } from '../helpers/mountProcess.js';
import { RCLONE } from '../helpers/restServer.js';
import { tempDir } from '../helpers/tempDir.js';

/** Processes whose command line names `path` (rclone left behind after an unmount). */
async function processesNaming(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const line = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (line.split('\0').includes(path)) found.push(`${pid}: ${line.replaceAll('\0', ' ')}`);
  }
  return found;
}

test('hindsight mount MOUNTPOINT: a FUSE folder (rclone mount) equal to the source, read beside another client, gone after SIGTERM', { skip: fuseUnavailable() }, async (t) => {
  const dir = await tempDir(t, 'hindsight-fuse-');
  const { source, env } = await sourceAndRepository(dir);
  const mountpoint = join(dir, 'drive');
  await mkdir(mountpoint);
  const mount = await startMount(t, [mountpoint], env);
  t.after(() => spawnSync('fusermount3', ['-u', '-z', mountpoint]));
  assert.match(mount.output(), new RegExp(`Mounted at ${mountpoint}`));
  assert.ok(await isMounted(mountpoint));

  const diff = spawnSync('diff', ['-r', join(mountpoint, 'latest', source), source], { encoding: 'utf8' });
  assert.equal(diff.status, 0, `diff -r: ${diff.stdout}${diff.stderr}`);
  assert.ok((await readdir(mountpoint)).includes('by-tag'));

  // The big file through the folder and through WebDAV at once.
  const expected = seededBytes('big', BIG);
  const viaDav = new Promise<Buffer>((resolve, reject) => {
    const child = spawn(RCLONE, ['cat', `:webdav:latest${source}/big.bin`], { env: { ...process.env, ...davRemoteEnv(mount.url, mount.username, mount.password) } });
    const parts: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => parts.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(parts)) : reject(new Error(`rclone cat exited ${code}`))));
  });
  const [fromFolder, fromDav] = await Promise.all([readFile(join(mountpoint, 'latest', source, 'big.bin')), viaDav]);
  assert.ok(fromFolder.equals(expected), 'read through the folder');
  assert.ok(fromDav.equals(expected), 'read through WebDAV at the same time');

  // Writing through the folder is refused by the file system itself.
  const touched = spawnSync('touch', [join(mountpoint, 'latest', source, 'new.txt')], { encoding: 'utf8' });
  assert.notEqual(touched.status, 0);
  assert.match(touched.stderr, /Read-only file system/);

  assert.equal(await mount.stop('SIGTERM'), 0, mount.log());
  assert.equal(await isMounted(mountpoint), false, 'unmounted');
  assert.deepEqual(await readdir(mountpoint), [], 'the mount point is an empty folder again');
  assert.deepEqual(await processesNaming(mountpoint), [], 'no rclone left running');
  assert.deepEqual(await readdir(join(env.HINDSIGHT_REPO, 'locks')), [], 'lock released');
});
