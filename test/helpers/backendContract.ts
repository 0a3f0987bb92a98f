import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { OBJECT_TYPES, readScattered, type Backend, type ObjectHandle, type ObjectInfo } from '../../src-main/engine/backend/backend.js';
import { seededBytes } from './data.js';

export const objectName = (n: number): string => n.toString(16).padStart(64, '0');
export const packHandle = (n: number): ObjectHandle => ({ type: 'data', name: objectName(n) });

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const byName = (a: ObjectInfo, b: ObjectInfo) => a.name.localeCompare(b.name);

export interface ContractOptions {
  /** Object size that exercises the backend's large-object path (S3 multipart, SFTP pipelined writes). */
  readonly largeObjectBytes?: number;
  /** The backend offers `createWriter` (the local disk, S3's streamed multipart upload); the retry and replication wrappers must not. */
  readonly piecewise?: boolean;
  /** Skips the whole suite with this reason (e.g. sshd is not installed). */
  readonly skip?: string;
}

/**
 * The `Backend` contract from backend.ts, as tests: every backend (local,
 * SFTP, S3, replicated, wrapped) runs this same suite against a fresh,
 * empty location from `open`, which also arranges its cleanup.
 */
export function backendContract(label: string, open: (t: TestContext) => Promise<Backend>, options: ContractOptions = {}): void {
  const large = options.largeObjectBytes ?? 3 * 1024 * 1024 + 17;
  const contract = (name: string, body: (backend: Backend, t: TestContext) => Promise<void>) =>
    test(`${label} contract: ${name}`, { skip: options.skip ?? false }, async (t) => {
      const backend = await open(t);
      try {
        await body(backend, t);
      } finally {
        await backend.close();
      }
    });

  contract('create makes an empty repository and refuses to create over one', async (backend) => {
    await backend.create();
    for (const type of OBJECT_TYPES) assert.deepEqual(await collect(backend.list(type)), [], `${type} starts empty`);
    await backend.write({ type: 'config', name: 'config' }, Buffer.from('config'));
    await assert.rejects(backend.create(), { code: 'E_ALREADY_EXISTS' });
  });

  contract('write, read whole and ranges, stat, list, replace, idempotent delete', async (backend) => {
    await backend.create();
    const data = seededBytes('obj', 100_000);
    await backend.write(packHandle(1), data);
    await backend.write({ type: 'index', name: objectName(2) }, Buffer.from('index'));
    await backend.write({ type: 'config', name: 'config' }, Buffer.from('config'));
    assert.deepEqual(await backend.read(packHandle(1)), data);
    // 16 bytes (a GCM tag) is the shortest read the repository makes; s3rver answers "bytes=0-0" with the whole object.
    assert.deepEqual(await backend.read(packHandle(1), { offset: 0, length: 16 }), data.subarray(0, 16));
    assert.deepEqual(await backend.read(packHandle(1), { offset: 1, length: 1 }), data.subarray(1, 2));
    assert.deepEqual(await backend.read(packHandle(1), { offset: 99_990, length: 10 }), data.subarray(99_990));
    assert.deepEqual(await backend.read(packHandle(1), { offset: 5, length: 0 }), Buffer.alloc(0));
    assert.deepEqual(await backend.stat(packHandle(1)), { name: objectName(1), size: 100_000 });
    assert.deepEqual(await collect(backend.list('data')), [{ name: objectName(1), size: 100_000 }]);
    assert.deepEqual(await collect(backend.list('index')), [{ name: objectName(2), size: 5 }]);
    assert.deepEqual(await collect(backend.list('config')), [{ name: 'config', size: 6 }]);
    assert.deepEqual(await collect(backend.list('snapshots')), []);
    await backend.write({ type: 'config', name: 'config' }, Buffer.from('config2'));
    assert.equal((await backend.read({ type: 'config', name: 'config' })).toString(), 'config2');
    await backend.delete(packHandle(1));
    await backend.delete(packHandle(1));
    assert.deepEqual(await collect(backend.list('data')), []);
    await assert.rejects(backend.read(packHandle(1)), { code: 'E_NOT_FOUND' });
  });

  contract('missing objects, ranges past the end and bad names fail with named errors', async (backend) => {
    await backend.create();
    await backend.write(packHandle(1), Buffer.alloc(10, 7));
    await assert.rejects(backend.read(packHandle(1), { offset: 5, length: 6 }), { code: 'E_INVALID_RANGE' });
    await assert.rejects(backend.read(packHandle(1), { offset: 10, length: 1 }), { code: 'E_INVALID_RANGE' });
    await assert.rejects(backend.read(packHandle(1), { offset: 11, length: 0 }), { code: 'E_INVALID_RANGE' });
    await assert.rejects(backend.read(packHandle(9)), { code: 'E_NOT_FOUND' });
    await assert.rejects(backend.read(packHandle(9), { offset: 0, length: 1 }), { code: 'E_NOT_FOUND' });
    await assert.rejects(backend.stat(packHandle(9)), { code: 'E_NOT_FOUND' });
    await assert.rejects(backend.read({ type: 'data', name: '../../etc/passwd' }), { code: 'E_INVALID_NAME' });
    await assert.rejects(backend.write({ type: 'index', name: 'config' }, Buffer.alloc(1)), { code: 'E_INVALID_NAME' });
  });

  contract('a range scattered into parts lands byte for byte, gaps into a shared scratch; past the end fails', async (backend) => {
    await backend.create();
    const data = seededBytes('scattered', 300_000);
    await backend.write(packHandle(3), data);
    // 1,500 parts (more than one readv takes on Linux), every other one a 7-byte gap into the same scratch.
    const scratch = Buffer.alloc(64);
    const wanted: Buffer[] = [];
    const parts: Uint8Array[] = [];
    let at = 1000;
    for (let i = 0; i < 750; i++) {
      const part = Buffer.alloc(100 + (i % 5) * 61);
      wanted.push(data.subarray(at, at + part.length));
      parts.push(part, scratch.subarray(0, 7));
      at += part.length + 7;
    }
    await readScattered(backend, packHandle(3), 1000, parts);
    parts.forEach((part, i) => {
      if (i % 2 === 0) assert.ok(Buffer.from(part).equals(wanted[i / 2] as Buffer), `part ${i} differs`);
    });
    await assert.rejects(readScattered(backend, packHandle(3), 299_990, [Buffer.alloc(5), Buffer.alloc(6)]), { code: 'E_INVALID_RANGE' });
    await assert.rejects(readScattered(backend, packHandle(9), 0, [Buffer.alloc(1)]), { code: 'E_NOT_FOUND' });
  });

  contract('an object in parts is written back to back; a large one round-trips byte for byte', async (backend) => {
    await backend.create();
    const parts = [seededBytes('a', 1000), Buffer.alloc(0), seededBytes('b', 70_000), seededBytes('c', 1)];
    await backend.write(packHandle(7), parts);
    assert.deepEqual(await backend.read(packHandle(7)), Buffer.concat(parts));
    const big = [seededBytes('big1', Math.floor(large / 3)), seededBytes('big2', large - Math.floor(large / 3))];
    await backend.write(packHandle(8), big);
    const whole = Buffer.concat(big);
    assert.equal((await backend.stat(packHandle(8))).size, large);
    assert.ok((await backend.read(packHandle(8))).equals(whole), 'large object differs');
    assert.deepEqual(await backend.read(packHandle(8), { offset: large - 100_000, length: 100_000 }), whole.subarray(large - 100_000));
  });

  if (options.piecewise) {
    contract('an object written piece by piece is invisible until committed; an aborted one leaves nothing', async (backend) => {
      assert.ok(backend.createWriter);
      await backend.create();
      const parts = [seededBytes('piece 1', 300_000), seededBytes('piece 2', 5), seededBytes('piece 3', 1_000_000)];
      const writer = backend.createWriter(packHandle(3));
      for (const part of parts) {
        await writer.append(part);
        assert.deepEqual(await collect(backend.list('data')), [], 'nothing is listed before the commit');
        await assert.rejects(backend.stat(packHandle(3)), { code: 'E_NOT_FOUND' });
      }
      await writer.commit();
      await writer.abort();
      assert.ok((await backend.read(packHandle(3))).equals(Buffer.concat(parts)), 'the pieces back to back');

      const dropped = backend.createWriter(packHandle(4));
      await dropped.append(seededBytes('piece 4', 1000));
      await dropped.abort();
      await assert.rejects(dropped.append(Buffer.alloc(1)), { code: 'E_IO' });
      await assert.rejects(dropped.commit(), { code: 'E_IO' });
      assert.deepEqual((await collect(backend.list('data'))).map((o) => o.name), [objectName(3)]);

      const replacing = backend.createWriter(packHandle(3));
      await replacing.append(Buffer.from('new'));
      await replacing.commit();
      assert.equal((await backend.read(packHandle(3))).toString(), 'new');
      const empty = backend.createWriter(packHandle(5));
      await empty.commit();
      assert.deepEqual(await backend.stat(packHandle(5)), { name: objectName(5), size: 0 });
    });
  } else {
    // A write that retries or goes to several copies needs the object whole: such a backend must not offer a writer.
    contract('objects are taken whole: no piece-by-piece writer is offered', async (backend) => {
      assert.equal(backend.createWriter, undefined);
    });
  }

  contract('concurrent writes and reads of many objects; list reports each exactly once', async (backend) => {
    await backend.create();
    const count = 40;
    await Promise.all(Array.from({ length: count }, (_, i) => backend.write(packHandle(i * 7 + 1), seededBytes(`c${i}`, 1000 + i))));
    await Promise.all(Array.from({ length: count }, (_, i) => backend.write({ type: 'snapshots', name: objectName(i) }, Buffer.from(`s${i}`))));
    const reads = await Promise.all(Array.from({ length: count }, (_, i) => backend.read(packHandle(i * 7 + 1), { offset: 500, length: 500 + i })));
    reads.forEach((bytes, i) => assert.deepEqual(bytes, seededBytes(`c${i}`, 1000 + i).subarray(500)));
    const listed = await collect(backend.list('data'));
    assert.deepEqual(
      listed.sort(byName),
      Array.from({ length: count }, (_, i) => ({ name: objectName(i * 7 + 1), size: 1000 + i })).sort(byName),
    );
    assert.equal((await collect(backend.list('snapshots'))).length, count);
  });
}
