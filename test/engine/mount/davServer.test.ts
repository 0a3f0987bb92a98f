import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Backend, ByteRange, ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { startDavServer } from '../../../src-main/engine/mount/davServer.js';
import { BadPath, pathSegments, percentEncoded } from '../../../src-main/engine/mount/davPath.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';
import { tempDir } from '../../helpers/tempDir.js';

/** Every byte range read from data packs, for a test to count what a request loaded. */
function countingBackend(inner: Backend, reads: ByteRange[]): Backend {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key === 'read') {
        return (handle: ObjectHandle, range?: ByteRange) => {
          if (handle.type === 'data' && range) reads.push(range);
          return target.read(handle, range);
        };
      }
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

test('a ranged GET loads only the chunks it overlaps, and a second one from the cache; a non-UTF-8 name is reached by its bytes', async (t) => {
  const dir = await tempDir(t, 'hindsight-dav-');
  const source = join(dir, 'source');
  await mkdir(source);
  const big = seededBytes('video', 20 * 1024 * 1024);
  await writeFile(join(source, 'video.bin'), big);
  const latin1 = Buffer.concat([Buffer.from(source + '/'), Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from('.txt')]);
  await writeFile(latin1, 'not UTF-8');
  const { path, repository: built } = await createTestRepository(t);
  await backup(built, { paths: [source], cacheDir: join(dir, 'cache') });
  await built.close();

  const reads: ByteRange[] = [];
  const repository = await Repository.open(countingBackend(new LocalBackend(path), reads), TEST_PASSWORD);
  const server = await startDavServer({ repository, password: 'pw' });
  t.after(async () => {
    await server.close();
    await repository.close();
  });
  const auth = { authorization: `Basic ${Buffer.from('hindsight:pw').toString('base64')}` };
  const file = `${server.url}latest${source}/video.bin`;

  const head = await fetch(file, { method: 'HEAD', headers: auth });
  assert.equal(head.headers.get('content-length'), String(big.length));
  // The folders on the way are read now (their trees); what follows counts the file's chunks alone.
  reads.length = 0;
  await fetch(file, { method: 'HEAD', headers: auth });
  assert.equal(reads.length, 0, 'HEAD reads no chunk');

  const offset = 13 * 1024 * 1024 + 4321;
  const part = await fetch(file, { headers: { ...auth, range: `bytes=${offset}-${offset + 99}` } });
  assert.equal(part.status, 206);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(big.subarray(offset, offset + 100)));
  const loaded = reads.reduce((n, r) => n + r.length, 0);
  assert.ok(reads.length <= 2 && loaded <= 2 * 8 * 1024 * 1024, `${reads.length} reads, ${loaded} bytes for 100 bytes of a 20 MiB file`);
  assert.ok(loaded < big.length / 2);

  const before = reads.length;
  const again = await fetch(file, { headers: { ...auth, range: `bytes=${offset + 10}-${offset + 50}` } });
  assert.ok(Buffer.from(await again.arrayBuffer()).equals(big.subarray(offset + 10, offset + 51)));
  assert.equal(reads.length, before, 'the same chunk comes from the cache');

  const encoded = `${server.url}latest${source}/${percentEncoded(Buffer.from([0x63, 0x61, 0x66, 0xe9]))}.txt`;
  assert.equal(await (await fetch(encoded, { headers: auth })).text(), 'not UTF-8');
  const listing = await (await fetch(`${server.url}latest${source}/`, { method: 'PROPFIND', headers: { ...auth, depth: '1' } })).text();
  assert.match(listing, /<D:href>[^<]*\/caf%E9\.txt<\/D:href>/);
  assert.match(listing, /<D:displayname>caf\\xe9\.txt<\/D:displayname>/, 'shown escaped, as hindsight ls shows it');
});

test('request paths: names as raw bytes, and what is refused', () => {
  assert.deepEqual(pathSegments('/a%20b//c/?x=1').map((s) => s.toString()), ['a b', 'c']);
  assert.deepEqual(pathSegments('/%FF'), [Buffer.from([0xff])]);
  for (const bad of ['/..', '/a/%2E%2E/b', '/a/.', '/a%2fb', '/a%00', '/%G0', 'relative', `/${'x'.repeat(256)}`]) {
    assert.throws(() => pathSegments(bad), BadPath, bad);
  }
  assert.equal(percentEncoded(Buffer.from('a b/ü~')), 'a%20b%2F%C3%BC~');
});
