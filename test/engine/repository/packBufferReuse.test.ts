import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { computeBlobId } from '../../../src-main/engine/crypto/blobId.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { WholeObjectBackend } from '../../fixtures/wrappedBackends.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

/**
 * A local backend that writes packs late and out of order, and checks that the bytes it was handed
 * did not change while it waited: a pack buffer handed back before its write finished would be
 * refilled by the next pack in the meantime. Packs reach it whole (it does not offer `createWriter`),
 * as they reach a remote target.
 */
class LateBackend extends WholeObjectBackend {
  packWrites = 0;
  private turn = 0;

  override async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (handle.type !== 'data') return this.inner.write(handle, data);
    const parts = data instanceof Uint8Array ? [data] : data;
    const given = Buffer.concat(parts);
    this.packWrites += 1;
    await sleep([30, 5, 15][this.turn++ % 3]);
    await this.inner.write(handle, parts);
    assert.ok(Buffer.concat(parts).equals(given), `pack ${handle.name} changed while it was being written`);
  }
}

test('a pack buffer is reused only once its pack is written: slow, out-of-order writes store every blob intact', async (t) => {
  const made = await createTestRepository(t, { packSize: 64 * 1024, compressionLevel: 0 });
  await made.repository.close();
  const backend = new LateBackend(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD, { uploadConcurrency: 3 });
  t.after(() => repository.close());

  // Sizes that leave packs filled unevenly, and one blob larger than a pack, which grows its buffer.
  const blobs = Array.from({ length: 160 }, (_, i) => seededBytes(`blob ${i}`, i === 80 ? 200 * 1024 : 3000 + ((i * 7919) % 20_000)));
  await Promise.all(
    blobs.map(async (body) => {
      const id = computeBlobId(repository.blobIdKey, body);
      assert.ok(repository.reserveBlob(id));
      await repository.addPreparedBlob('data', id, { body, compressed: false }, body.byteLength);
    }),
  );
  await repository.flush();
  assert.ok(backend.packWrites > 20, `${backend.packWrites} packs`);

  const reopened = await made.reopen();
  t.after(() => reopened.close());
  for (const body of blobs) assert.ok((await reopened.loadBlob(computeBlobId(reopened.blobIdKey, body))).equals(body));
});
