import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { computeBlobId } from '../../../src-main/engine/crypto/blobId.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { Gate, WholeObjectBackend, gatedWriter } from '../../fixtures/wrappedBackends.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

/** A target slower than the backup: pack writes wait at the gate until the test opens it. */
class GatedBackend extends WholeObjectBackend {
  packWritesStarted = 0;
  readonly gate = new Gate();

  override async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (handle.type === 'data') {
      this.packWritesStarted += 1;
      await this.gate.passed;
    }
    await this.inner.write(handle, data);
  }
}

/** Offers every blob at once, as a worker's batch of chunks arrives; counts those the repository has taken. */
function offerAll(repository: Repository, blobs: readonly Buffer[]) {
  const progress = { accepted: 0, done: Promise.resolve() };
  progress.done = Promise.all(
    blobs.map(async (body) => {
      const id = computeBlobId(repository.blobIdKey, body);
      assert.ok(repository.reserveBlob(id));
      await repository.addPreparedBlob('data', id, { body, compressed: false }, body.byteLength);
      progress.accepted += 1;
    }),
  ).then(() => undefined);
  return progress;
}

async function assertAllStored(reopened: Repository, blobs: readonly Buffer[]): Promise<void> {
  for (const body of blobs) assert.ok((await reopened.loadBlob(computeBlobId(reopened.blobIdKey, body))).equals(body));
}

test('a target slower than the backup holds blobs back: full packs wait for an upload slot instead of piling up in memory', async (t) => {
  const made = await createTestRepository(t, { packSize: 64 * 1024, compressionLevel: 0 });
  await made.repository.close();
  const backend = new GatedBackend(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD, { uploadConcurrency: 2 });
  t.after(() => repository.close());

  // 200 blobs that, with their 16-byte tags, fill a 64 KiB pack four at a time, all offered at once as the
  // file workers' chunks are.
  const blobs = Array.from({ length: 200 }, (_, i) => seededBytes(`blob ${i}`, 16 * 1024 - 16));
  const offered = offerAll(repository, blobs);
  await sleep(200);
  // Two packs uploading and one waiting for a slot (its last blob waits with it): 2 × 4 + 3 blobs.
  // Without backpressure every blob but the one that filled each waiting pack was accepted (~150).
  assert.equal(backend.packWritesStarted, 2);
  assert.ok(offered.accepted <= 11, `blobs accepted while the target was stuck: ${offered.accepted}`);

  backend.gate.open();
  await offered.done;
  await repository.flush();
  assert.equal(offered.accepted, 200);
  assert.equal(backend.packWritesStarted, 50);

  const reopened = await made.reopen();
  t.after(() => reopened.close());
  await assertAllStored(reopened, blobs);
});

/** A local disk slower than the backup, for packs written as they fill: appends to packs wait at the gate. */
class GatedDisk extends LocalBackend {
  appendsStarted = 0;
  readonly gate = new Gate();

  override createWriter(handle: ObjectHandle) {
    const writer = super.createWriter(handle);
    return handle.type === 'data' ? gatedWriter(writer, this.gate, () => (this.appendsStarted += 1)) : writer;
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
  const offered = offerAll(repository, blobs);
  await sleep(200);
  // One append waits at the disk, four more stages are queued behind it, and the blob that filled the
  // fifth waits with it: 5 × 4 + 1 blobs. Without the wait every blob was accepted, 50 MiB in memory.
  assert.equal(backend.appendsStarted, 1);
  assert.ok(offered.accepted <= 21, `blobs accepted while the disk was stuck: ${offered.accepted}`);

  backend.gate.open();
  await offered.done;
  await repository.flush();
  assert.equal(offered.accepted, 200);
  const reopened = await made.reopen();
  t.after(() => reopened.close());
  await assertAllStored(reopened, blobs);
});
