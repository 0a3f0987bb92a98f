import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { Backend, ByteRange, ObjectHandle, ObjectType } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { computeBlobId } from '../../../src-main/engine/crypto/blobId.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

/** A local backend whose pack writes wait until `open()`: a target slower than the backup. */
class GatedBackend implements Backend {
  readonly location: string;
  packWritesStarted = 0;
  private release!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  constructor(private readonly inner: LocalBackend) {
    this.location = inner.location;
  }

  open(): void {
    this.release();
  }

  create(): Promise<void> {
    return this.inner.create();
  }
  list(type: ObjectType) {
    return this.inner.list(type);
  }
  stat(handle: ObjectHandle) {
    return this.inner.stat(handle);
  }
  read(handle: ObjectHandle, range?: ByteRange) {
    return this.inner.read(handle, range);
  }
  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (handle.type === 'data') {
      this.packWritesStarted += 1;
      await this.gate;
    }
    await this.inner.write(handle, data);
  }
  delete(handle: ObjectHandle): Promise<void> {
    return this.inner.delete(handle);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test('a target slower than the backup holds blobs back: full packs wait for an upload slot instead of piling up in memory', async (t) => {
  const made = await createTestRepository(t, { packSize: 64 * 1024, compressionLevel: 0 });
  await made.repository.close();
  const backend = new GatedBackend(new LocalBackend(made.path));
  const repository = await Repository.open(backend, TEST_PASSWORD, { uploadConcurrency: 2 });
  t.after(() => repository.close());

  // 200 blobs that, with their 16-byte tags, fill a 64 KiB pack four at a time, all offered at once as the
  // file workers' chunks are.
  const blobs = Array.from({ length: 200 }, (_, i) => seededBytes(`blob ${i}`, 16 * 1024 - 16));
  let accepted = 0;
  const adds = blobs.map(async (body) => {
    const id = computeBlobId(repository.blobIdKey, body);
    assert.ok(repository.reserveBlob(id));
    await repository.addPreparedBlob('data', id, { body, compressed: false }, body.byteLength);
    accepted += 1;
  });
  await sleep(200);
  // Two packs uploading and one waiting for a slot (its last blob waits with it): 2 × 4 + 3 blobs.
  // Without backpressure every blob but the one that filled each waiting pack was accepted (~150).
  assert.equal(backend.packWritesStarted, 2);
  assert.ok(accepted <= 11, `blobs accepted while the target was stuck: ${accepted}`);

  backend.open();
  await Promise.all(adds);
  await repository.flush();
  assert.equal(accepted, 200);
  assert.equal(backend.packWritesStarted, 50);

  const reopened = await made.reopen();
  t.after(() => reopened.close());
  for (const body of blobs) assert.ok((await reopened.loadBlob(computeBlobId(reopened.blobIdKey, body))).equals(body));
});

/** A local disk whose appends to packs wait until `open()`: a disk slower than the backup, for packs written as they fill. */
class GatedDisk extends LocalBackend {
  appendsStarted = 0;
  private release!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  open(): void {
    this.release();
  }

  override createWriter(handle: ObjectHandle) {
    const writer = super.createWriter(handle);
    if (handle.type !== 'data') return writer;
    return {
      ...writer,
      append: async (data: Uint8Array) => {
        this.appendsStarted += 1;
        await this.gate;
        await writer.append(data);
      },
    };
  }
}

test('a disk slower than the backup holds blobs back: a pack written as it fills keeps only a few MiB on the way', async (t) => {
  const made = await createTestRepository(t, { packSize: 16 * 1024 * 1024, compressionLevel: 0 });
  await made.repository.close();
  const backend = new GatedDisk(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD);
  t.after(() => repository.close());

  // 200 blobs of 256 KiB with their tags (50 MiB), offered at once: four fill a 1 MiB stage.
  const blobs = Array.from({ length: 200 }, (_, i) => seededBytes(`streamed blob ${i}`, 256 * 1024 - 16));
  let accepted = 0;
  const adds = blobs.map(async (body) => {
    const id = computeBlobId(repository.blobIdKey, body);
    assert.ok(repository.reserveBlob(id));
    await repository.addPreparedBlob('data', id, { body, compressed: false }, body.byteLength);
    accepted += 1;
  });
  await sleep(200);
  // One append waits at the disk, four more stages are queued behind it, and the blob that filled the
  // fifth waits with it: 5 × 4 + 1 blobs. Without the wait every blob was accepted, 50 MiB in memory.
  assert.equal(backend.appendsStarted, 1);
  assert.ok(accepted <= 21, `blobs accepted while the disk was stuck: ${accepted}`);

  backend.open();
  await Promise.all(adds);
  await repository.flush();
  assert.equal(accepted, 200);
  const reopened = await made.reopen();
  t.after(() => reopened.close());
  for (const body of blobs) assert.ok((await reopened.loadBlob(computeBlobId(reopened.blobIdKey, body))).equals(body));
});
