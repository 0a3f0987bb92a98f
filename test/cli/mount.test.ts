import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdir, open, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { listSnapshots } from '../../src-main/engine/snapshot/snapshot.js';
import { findPath } from '../../src-main/engine/snapshot/treePath.js';
import { seededBytes, seededRandom } from '../helpers/data.js';
import { BIG, assertSameContents, contents, davRemoteEnv, fuseUnavailable, hindsight, rclone, sourceAndRepository, startMount } from '../helpers/mountProcess.js';
import { tempDir } from '../helpers/tempDir.js';


/** A snapshot's folder name as the mount shows it: local time, no colons, then the host. */
function folderName(time: string, host: string): string {
  const d = new Date(time);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}-${two(d.getMinutes())}-${two(d.getSeconds())} ${host}`;
}



/** A raw HTTP request with the path exactly as given (fetch would normalise "..") and basic authentication. */
function raw(url: string, method: string, path: string, auth: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: { ...headers, ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}


test('hindsight mount serves every snapshot over WebDAV to rclone: listing, whole copies, ranged reads, refusals', async (t) => {
  const dir = await tempDir(t, 'hindsight-mount-');
  const { source, env } = await sourceAndRepository(dir);
  const mount = await startMount(t, [], env);
  assert.match(mount.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(mount.username, 'hindsight');
  assert.ok(mount.password.length >= 20, 'a random password');
  const dav = davRemoteEnv(mount.url, mount.username, mount.password);

  const repository = await Repository.open(new LocalBackend(env.HINDSIGHT_REPO), 'pw');
  const snapshots = await listSnapshots(repository);
  await repository.close();
  const names = snapshots.map((s) => folderName(s.time, s.host));
  // Two backups within one second (a fast machine) share a time: the mount then adds each one's short id.
  const folders = names.length === new Set(names).size ? names : snapshots.map((s, i) => `${names[i]} ${s.id.slice(0, 8)}`);

  await t.test('the root lists every snapshot by time, with latest/, by-host/ and by-tag/', () => {
    const listed = rclone(['lsf', ':webdav:'], dav);
    assert.equal(listed.status, 0, listed.stderr.toString());
    const lines = listed.stdout.toString().trim().split('\n').sort();
    assert.deepEqual(lines, [...folders.map((n) => `${n}/`), 'by-host/', 'by-tag/', 'latest/'].sort());
    const tagged = rclone(['lsf', ':webdav:by-tag/first'], dav).stdout.toString().trim();
    assert.equal(tagged, `${folders[0]}/`);
    const host = snapshots[0]?.host as string;
    assert.deepEqual(rclone(['lsf', `:webdav:by-host/${host}`], dav).stdout.toString().trim().split('\n').sort(), folders.map((n) => `${n}/`).sort());
    const sizes = rclone(['lsjson', `:webdav:latest${source}`], dav);
    const entries = JSON.parse(sizes.stdout.toString()) as { Name: string; Size: number; IsDir: boolean }[];
    assert.equal(entries.find((e) => e.Name === 'big.bin')?.Size, BIG);
    assert.equal(entries.find((e) => e.Name === 'deep')?.IsDir, true);
  });

  await t.test('a whole snapshot copied out with rclone equals the source byte for byte, and the older one its own state', async () => {
    const out = join(dir, 'copied');
    const copied = rclone(['copy', `:webdav:latest${source}`, out, '--create-empty-src-dirs'], dav);
    assert.equal(copied.status, 0, copied.stderr.toString());
    assertSameContents(await contents(out), await contents(source));
    const older = rclone(['cat', `:webdav:${folders[0]}${source}/hello.txt`], dav);
    assert.equal(older.status, 0, older.stderr.toString());
    assert.equal(older.stdout.toString(), 'hello, drive\n');
  });

  await t.test('ranged reads at random offsets of a large file match the source', () => {
    const expected = seededBytes('big', BIG);
    const random = seededRandom(21);
    for (let i = 0; i < 8; i++) {
      const offset = Math.floor(random() * (BIG - 1));
      const count = 1 + Math.floor(random() * 3 * 1024 * 1024);
      const part = rclone(['cat', '--offset', String(offset), '--count', String(count), `:webdav:latest${source}/big.bin`], dav);
      assert.equal(part.status, 0, part.stderr.toString());
      assert.ok(part.stdout.equals(expected.subarray(offset, offset + count)), `bytes ${offset}+${count}`);
    }
  });

  await t.test('HTTP details: a 206 with Content-Range, 416 beyond the end, PROPFIND depth, mode and owner saved', async () => {
    const auth = `hindsight:${mount.password}`;
    const path = `/latest${source}/big.bin`;
    const ranged = await raw(mount.url, 'GET', path, auth, { range: 'bytes=1000-1999' });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers['content-range'], `bytes 1000-1999/${BIG}`);
    assert.ok(ranged.body.equals(seededBytes('big', BIG).subarray(1000, 2000)));
    assert.equal((await raw(mount.url, 'GET', path, auth, { range: `bytes=${BIG}-` })).status, 416);
    const one = await raw(mount.url, 'PROPFIND', `/latest${source}/`, auth, { depth: '0' });
    assert.equal(one.status, 207);
    assert.equal(one.body.toString().match(/<D:response>/g)?.length, 1);
    assert.equal((await raw(mount.url, 'PROPFIND', '/', auth, { depth: 'infinity' })).status, 403);
    const listing = (await raw(mount.url, 'PROPFIND', `/latest${source}/`, auth, { depth: '1' })).body.toString();
    assert.match(listing, /<D:href>[^<]*\/with%20space%20%26%20%25%20%23%20%3F\.txt<\/D:href>/);
    assert.match(listing, /<H:mode>0644<\/H:mode>/);
    const awkward = await raw(mount.url, 'GET', `/latest${source}/gr%C3%BC%C3%9Fe.txt`, auth);
    assert.equal(awkward.body.toString(), 'non-ASCII name\n');
  });

  await t.test('wrong or missing credentials are refused', async () => {
    const wrong = rclone(['lsf', ':webdav:'], davRemoteEnv(mount.url, 'hindsight', 'not the password'));
    assert.notEqual(wrong.status, 0);
    assert.equal((await raw(mount.url, 'PROPFIND', '/', undefined)).status, 401);
    assert.equal((await raw(mount.url, 'GET', `/latest${source}/hello.txt`, 'someone:' + mount.password)).status, 401);
    assert.equal((await raw(mount.url, 'OPTIONS', '/', undefined)).status, 401);
  });

  await t.test('writes and path tricks are refused, and the server goes on', async () => {
    const auth = `hindsight:${mount.password}`;
    const upload = join(dir, 'upload.txt');
    await writeFile(upload, 'should never arrive');
    assert.notEqual(rclone(['copyto', upload, `:webdav:latest${source}/upload.txt`], dav).status, 0);
    assert.notEqual(rclone(['mkdir', ':webdav:new-folder'], dav).status, 0);
    assert.notEqual(rclone(['delete', `:webdav:latest${source}/hello.txt`], dav).status, 0);
    for (const method of ['PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPPATCH', 'LOCK', 'UNLOCK', 'POST']) {
      assert.equal((await raw(mount.url, method, `/latest${source}/hello.txt`, auth)).status, 403, method);
    }
    assert.equal((await raw(mount.url, 'SEARCH', '/', auth)).status, 405);
    for (const path of ['/../etc/passwd', `/latest${source}/../../x`, '/%2e%2e/x', '/latest/a%2Fb', '/latest/a%00b', '/latest/%zz', `/${'n'.repeat(300)}`]) {
      const status = (await raw(mount.url, 'GET', path, auth)).status;
      assert.ok(status === 400 || status === 414, `${path}: ${status}`);
    }
    assert.equal((await raw(mount.url, 'GET', `/${'a/'.repeat(5000)}`, auth)).status, 414);
    const still = rclone(['cat', `:webdav:latest${source}/hello.txt`], dav);
    assert.equal(still.stdout.toString(), 'hello again, drive\n');
    assert.equal((await readdir(join(dir, 'repo', 'snapshots'))).length, 2, 'nothing was written to the repository');
  });

  const status = await mount.stop('SIGTERM');
  assert.equal(status, 0, mount.log());
  const locks = await readdir(join(dir, 'repo', 'locks'));
  assert.deepEqual(locks, [], 'the shared lock is released');
});

test('a damaged pack fails only the file it holds, as an I/O error named in the log', async (t) => {
  const dir = await tempDir(t, 'hindsight-mount-');
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'damaged.bin'), seededBytes('damaged', 6 * 1024 * 1024));
  await writeFile(join(source, 'fine.txt'), 'still readable\n');
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  hindsight(['init', '--pack-size', '2MiB'], env);
  hindsight(['backup', source], env);

  // Flip a byte in the middle of the file's second chunk, in its pack.
  const repository = await Repository.open(new LocalBackend(env.HINDSIGHT_REPO), 'pw');
  const [snapshot] = await listSnapshots(repository);
  const target = await findPath(repository, snapshot!, `${source}/damaged.bin`);
  const chunks = target.kind === 'entry' ? (target.node.content ?? []) : [];
  assert.ok(chunks.length >= 3, 'the file spans several chunks');
  const first = repository.index.get(chunks[0]!)!;
  const second = repository.index.get(chunks[1]!)!;
  await repository.close();
  const pack = await open(join(env.HINDSIGHT_REPO, 'data', second.pack.slice(0, 2), second.pack), 'r+');
  const at = second.offset + Math.floor(second.length / 2);
  const byte = Buffer.alloc(1);
  await pack.read(byte, 0, 1, at);
  await pack.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, at);
  await pack.close();

  // Through a FUSE folder too where this machine allows one: the damage is an I/O error there as well.
  const mountpoint = fuseUnavailable() ? undefined : join(dir, 'drive');
  if (mountpoint) await mkdir(mountpoint);
  const mount = await startMount(t, mountpoint ? [mountpoint] : [], env);
  const dav = davRemoteEnv(mount.url, mount.username, mount.password);
  const whole = rclone(['cat', `:webdav:latest${source}/damaged.bin`], dav);
  assert.notEqual(whole.status, 0, 'reading across the damaged chunk fails');
  assert.ok(!whole.stdout.equals(seededBytes('damaged', 6 * 1024 * 1024)));
  await mount.waitForLog(/error: reading \/latest\/.*damaged\.bin: .*damaged or was modified/);
  const before = rclone(['cat', '--count', String(first.rawLength), `:webdav:latest${source}/damaged.bin`], dav);
  assert.equal(before.status, 0, 'the chunk before the damage still reads');
  assert.ok(before.stdout.equals(seededBytes('damaged', first.rawLength)));
  const fine = rclone(['cat', `:webdav:latest${source}/fine.txt`], dav);
  assert.equal(fine.stdout.toString(), 'still readable\n');
  // A read that starts in the damaged chunk is refused before any byte is sent.
  const inside = await raw(mount.url, 'GET', `/latest${source}/damaged.bin`, `hindsight:${mount.password}`, { range: `bytes=${first.rawLength + 10}-${first.rawLength + 20}` });
  assert.equal(inside.status, 500);

  if (mountpoint) {
    const cat = spawnSync('cat', [join(mountpoint, 'latest', source, 'damaged.bin')], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    assert.notEqual(cat.status, 0);
    assert.match(cat.stderr.toString(), /Input\/output error/);
    assert.equal(await readFile(join(mountpoint, 'latest', source, 'fine.txt'), 'utf8'), 'still readable\n');
    // Unmounted from outside: the command notices and stops.
    assert.equal(spawnSync('fusermount3', ['-u', mountpoint]).status, 0);
    await mount.waitForLog(/unmounted from outside; stopping/, 15_000);
    assert.equal(await mount.exited, 0);
  }
});
