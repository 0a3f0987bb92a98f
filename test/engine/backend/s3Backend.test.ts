import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BackendError } from '../../../src-main/engine/backend/backend.js';
import { S3Backend } from '../../../src-main/engine/backend/s3Backend.js';
import { backendContract, collect, objectName, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
import { assertRepositoryCycle } from '../../helpers/repositoryCycle.js';
import { S3_CREDENTIALS, startS3Server } from '../../helpers/s3Server.js';
import { freePort } from '../../helpers/sshServer.js';

const MiB = 1024 * 1024;

backendContract(
  's3',
  async (t) => {
    const server = await startS3Server(t);
    return new S3Backend({ ...server.options('repos/contract'), partSize: 5 * MiB });
  },
  // Larger than two parts: the multipart path, with a short last part. Its writer streams (hindsight server's uploads).
  { largeObjectBytes: 12 * MiB + 5, piecewise: true },
);

test('s3: an object streamed through createWriter goes up in parts as it comes, is invisible until committed, and an aborted one leaves nothing', async (t) => {
  const server = await startS3Server(t);
  const backend = new S3Backend({ ...server.options('streamed'), partSize: 5 * MiB, partConcurrency: 2 });
  t.after(() => backend.close());
  await backend.create();
  const whole = seededBytes('streamed', 23 * MiB + 7);
  const writer = backend.createWriter(packHandle(1));
  // Appends of odd sizes that straddle the part boundaries, the buffer reused after each (as the server's is).
  const scratch = Buffer.alloc(1_000_003);
  for (let at = 0; at < whole.length; at += scratch.length) {
    const piece = whole.subarray(at, at + scratch.length);
    piece.copy(scratch);
    await writer.append(scratch.subarray(0, piece.length));
    scratch.fill(0);
  }
  assert.deepEqual(await collect(backend.list('data')), [], 'nothing is listed before the commit');
  await writer.commit();
  assert.equal((await backend.stat(packHandle(1))).size, whole.length);
  assert.ok((await backend.read(packHandle(1))).equals(whole), 'the streamed object reads back whole');

  const dropped = backend.createWriter(packHandle(2));
  await dropped.append(whole.subarray(0, 12 * MiB));
  await dropped.abort();
  assert.deepEqual((await collect(backend.list('data'))).map((o) => o.name), [objectName(1)], 'an aborted multipart upload is never an object');
});

test('s3: init, backup, restore byte for byte and check --read-data; packs above the part size go up in parts', async (t) => {
  const server = await startS3Server(t);
  // A pack closes before the chunk that would take it past packSize, so with chunks of at most 512 KiB
  // every full pack is above 6 MiB - 512 KiB, whatever order the file workers deliver chunks in.
  const chunker = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 512 * 1024 };
  await assertRepositoryCycle(t, () => new S3Backend({ ...server.options('cycle'), partSize: 5 * MiB }), { packSize: 6 * MiB, bigFileBytes: 14 * MiB, chunker });
  const backend = new S3Backend(server.options('cycle'));
  t.after(() => backend.close());
  const packs = await collect(backend.list('data'));
  assert.ok(packs.some((pack) => pack.size > 5 * MiB), `a pack above 5 MiB was written: ${packs.map((p) => p.size).join(', ')}`);
});

test('s3: list pages through more than 1000 objects, each reported once; prefixes keep repositories apart', async (t) => {
  const server = await startS3Server(t);
  const backend = new S3Backend(server.options('many'));
  const neighbour = new S3Backend(server.options('many-neighbour'));
  t.after(() => Promise.all([backend.close(), neighbour.close()]));
  await backend.create();
  const count = 1234;
  const names = Array.from({ length: count }, (_, i) => objectName(i * 31 + 5));
  for (let i = 0; i < count; i += 50) {
    await Promise.all(names.slice(i, i + 50).map((name, j) => backend.write({ type: 'snapshots', name }, Buffer.alloc(1 + ((i + j) % 5)))));
  }
  await neighbour.write({ type: 'snapshots', name: objectName(1) }, Buffer.from('x'));
  const listed = await collect(backend.list('snapshots'));
  assert.equal(listed.length, count);
  assert.deepEqual(listed.map((o) => o.name).sort(), [...names].sort());
  assert.ok(listed.every((o) => o.size >= 1 && o.size <= 5));
  assert.deepEqual(await collect(neighbour.list('snapshots')), [{ name: objectName(1), size: 1 }]);
});

test('s3: a failed multipart upload is aborted and leaves nothing under the final name', async (t) => {
  const server = await startS3Server(t);
  const backend = new S3Backend({ ...server.options('abort'), partSize: 5 * MiB });
  t.after(() => backend.close());
  await backend.create();
  const good = seededBytes('part', 5 * MiB);
  // The multipart upload is started, then the source fails part-way, as a dropped connection would.
  const failing = new Proxy([good, good, good], {
    get(target, key, receiver) {
      if (key === '2' && failing.reads++ > 0) throw new Error('source failed mid-upload');
      return Reflect.get(target, key, receiver);
    },
  }) as unknown as Uint8Array[] & { reads: number };
  failing.reads = 0;
  await assert.rejects(backend.write(packHandle(1), failing));
  await assert.rejects(backend.stat(packHandle(1)), { code: 'E_NOT_FOUND' });
  assert.deepEqual(await collect(backend.list('data')), []);
  const stored = await readdir(join(server.directory, 'hindsight'), { recursive: true });
  assert.ok(!stored.some((path) => path.includes(objectName(1))), `no trace of the object: ${stored.join(', ')}`);
});

test('s3: wrong credentials, a missing bucket and an unreachable endpoint fail clearly', async (t) => {
  const server = await startS3Server(t);
  const wrong = new S3Backend({ ...server.options('x'), credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'S3RVER' } });
  await assert.rejects(wrong.read(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.transient, false);
    assert.match(err.message, /refused the S3 credentials \(InvalidAccessKeyId\): check AWS_ACCESS_KEY_ID/);
    return true;
  });
  await wrong.close();
  const noBucket = new S3Backend(server.options('x', 'no-such-bucket'));
  await assert.rejects(noBucket.read({ type: 'config', name: 'config' }), { code: 'E_TARGET_MISSING', message: /bucket "no-such-bucket" does not exist/ });
  await noBucket.close();
  const down = new S3Backend({ ...server.options('x'), endpoint: `http://127.0.0.1:${await freePort()}` });
  await assert.rejects(down.read(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_UNREACHABLE');
    assert.equal(err.transient, true);
    assert.match(err.message, /Cannot reach 127\.0\.0\.1:\d+ .*ECONNREFUSED/);
    return true;
  });
  await down.close();
});

test('s3: init creates a missing bucket', async (t) => {
  const server = await startS3Server(t, []);
  const backend = new S3Backend(server.options('fresh', 'made-by-init'));
  t.after(() => backend.close());
  await backend.create();
  await backend.write(packHandle(1), Buffer.from('x'));
  assert.deepEqual(await collect(backend.list('data')), [{ name: objectName(1), size: 1 }]);
});

/**
 * An HTTP proxy in front of s3rver that refuses, with HTTP 400, what Google Cloud Storage's XML API
 * refuses of S3's protocol: trailing and SDK checksums (sent by default by recent AWS SDKs) and the
 * multi-object delete. Every refusal is recorded.
 */
async function gcsLikeProxy(t: TestContext, endpoint: string): Promise<{ endpoint: string; refused: string[] }> {
  const upstream = new URL(endpoint);
  const refused: string[] = [];
  const proxy = createHttpServer((req, res) => {
    const headers = req.headers;
    const problem =
      headers['x-amz-trailer'] !== undefined ? 'x-amz-trailer'
      : headers['x-amz-sdk-checksum-algorithm'] !== undefined ? 'x-amz-sdk-checksum-algorithm'
      : Object.keys(headers).find((name) => name.startsWith('x-amz-checksum-'))
      ?? (String(headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-') ? 'streaming payload'
      : String(headers['content-encoding'] ?? '').includes('aws-chunked') ? 'aws-chunked'
      : req.method === 'POST' && /[?&]delete(=|&|$)/.test(req.url ?? '') ? 'multi-object delete'
      : undefined);
    if (problem) {
      refused.push(`${req.method} ${req.url}: ${problem}`);
      req.resume();
      res.writeHead(400, { 'content-type': 'application/xml' }).end(`<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidArgument</Code><Message>${problem}</Message></Error>`);
      return;
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  return { endpoint: `http://127.0.0.1:${port}`, refused };
}

test('s3: what Google Cloud Storage\'s XML API refuses is never sent (no trailing or SDK checksums, no multi-object delete), region "auto" included', async (t) => {
  const server = await startS3Server(t);
  const gcs = await gcsLikeProxy(t, server.endpoint);
  // The proxy bites: the SDK with its default settings sends a checksum with every upload.
  const defaults = new S3Client({ region: 'auto', endpoint: gcs.endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS, maxAttempts: 1 });
  await assert.rejects(defaults.send(new PutObjectCommand({ Bucket: 'hindsight', Key: 'probe', Body: Buffer.from('x') })), { name: 'InvalidArgument' });
  defaults.destroy();
  assert.match(gcs.refused.join('\n'), /^PUT \/hindsight\/probe.*: (x-amz-checksum-|x-amz-sdk-checksum|x-amz-trailer|streaming|aws-chunked)/);
  gcs.refused.length = 0;
  const options = () => ({ ...server.options('gcs'), endpoint: gcs.endpoint, region: 'auto', partSize: 5 * MiB });
  const chunker = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 512 * 1024 };
  await assertRepositoryCycle(t, () => new S3Backend(options()), { packSize: 6 * MiB, bigFileBytes: 14 * MiB, chunker });
  const backend = new S3Backend(options());
  t.after(() => backend.close());
  await backend.write(packHandle(1), seededBytes('multipart', 11 * MiB));
  await backend.delete(packHandle(1));
  assert.deepEqual(gcs.refused, []);
});
