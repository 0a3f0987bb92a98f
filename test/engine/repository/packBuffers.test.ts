import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { computeBlobId } from '../../../src-main/engine/crypto/blobId.js';
import { PackBuffers } from '../../../src-main/engine/repository/packBuffers.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { WholeObjectBackend } from '../../fixtures/wrappedBackends.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

test('pack buffers: the smallest free one that fits is reused, at most `keep` are kept', () => {
  const buffers = new PackBuffers(2);
  const small = buffers.take(1000);
  const large = buffers.take(5000);
  const extra = buffers.take(3000);
  assert.ok(small.length >= 1000 && large.length >= 5000 && extra.length >= 3000);
  buffers.give(large);
  buffers.give(small);
  buffers.give(extra);
  assert.equal(buffers.take(900), small);
  assert.equal(buffers.take(900), large);
  // The third was dropped, not kept: a new buffer comes.
  const fresh = buffers.take(900);
  assert.ok(fresh !== extra && fresh !== small && fresh !== large);
});

test('pack buffers with an aligned size: the first `keep` share one memory, come back to the pool always, and are taken before ordinary ones', () => {
  const buffers = new PackBuffers(2, 64 * 1024);
  const first = buffers.take(64 * 1024);
  const second = buffers.take(1000);
  const ordinary = buffers.take(64 * 1024);
  assert.equal(first.buffer, second.buffer, 'the aligned buffers are slices of one memory');
  assert.notEqual(ordinary.buffer, first.buffer, 'a third comes from ordinary memory');
  assert.deepEqual([first.byteOffset % (64 * 1024), second.byteOffset % (64 * 1024), first.length, second.length], [0, 0, 64 * 1024, 64 * 1024]);
  buffers.give(ordinary);
  buffers.give(first);
  buffers.give(second);
  // The pool was full with the ordinary one and the first, yet the second was kept: aligned memory is never dropped.
  const again = [buffers.take(64 * 1024), buffers.take(64 * 1024)];
  assert.ok(again.every((buffer) => buffer.buffer === first.buffer), 'aligned buffers are taken first');
  assert.equal(buffers.take(64 * 1024), ordinary);
});

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
