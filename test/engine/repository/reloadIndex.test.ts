import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendError, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { seededBytes } from '../../helpers/data.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

/** A local backend that counts index file reads and can refuse to write index files. */
class IndexWatchingBackend extends LocalBackend {
  indexReads = 0;
  refuseIndexWrites = false;

  override read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    if (handle.type === 'index') this.indexReads += 1;
    return super.read(handle, range);
  }

  override write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (handle.type === 'index' && this.refuseIndexWrites) return Promise.reject(new BackendError('E_IO', 'index writes refused by the test'));
    return super.write(handle, data);
  }
}

test('reloading the index reads the index files again only when they changed, and always sees what other sessions did', async (t) => {
  const made = await createTestRepository(t);
  const other = made.repository;
  const first = await other.saveBlob('data', seededBytes('first', 5000));
  await other.flush();

  const backend = new IndexWatchingBackend(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD);
  t.after(() => repository.close());
  assert.ok(repository.hasBlob(first.id));
  const readsAtOpen = backend.indexReads;
  assert.equal(readsAtOpen, 1);

  await repository.reloadIndex();
  assert.equal(backend.indexReads, readsAtOpen, 'the same index files are not read again');

  // Another session adds an index file: the reload reads them all and knows the new blob.
  const second = await other.saveBlob('data', seededBytes('second', 5000));
  await other.flush();
  assert.ok(!repository.hasBlob(second.id));
  await repository.reloadIndex();
  assert.equal(backend.indexReads, readsAtOpen + 2);
  assert.ok(repository.hasBlob(second.id) && repository.hasBlob(first.id));

  // An index file removed (as a prune rewrites the index) takes its blobs out of the reloaded index.
  const files = await repository.readIndexFiles();
  const firstIndex = files.find(({ content }) => content.packs.some((pack) => pack.blobs.some((blob) => blob.id.equals(first.id))));
  assert.ok(firstIndex);
  await backend.delete({ type: 'index', name: firstIndex.id });
  await repository.reloadIndex();
  assert.ok(!repository.hasBlob(first.id), 'a blob whose index file is gone is no longer known');
  assert.ok(repository.hasBlob(second.id));
});

test('a pack whose index file could not be written is forgotten by the next reload, though no index file changed', async (t) => {
  const made = await createTestRepository(t);
  await made.repository.close();
  const backend = new IndexWatchingBackend(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD);
  t.after(() => repository.close());

  backend.refuseIndexWrites = true;
  const orphan = await repository.saveBlob('data', seededBytes('orphan', 5000));
  await assert.rejects(repository.flush(), /index writes refused/);
  assert.ok(repository.hasBlob(orphan.id), 'the pack was written, so this session knows the blob');

  // Deduplicating against it later would make snapshots refer to a blob no index names.
  await repository.reloadIndex();
  assert.ok(!repository.hasBlob(orphan.id));
});

test('an index of many files, decoded as each is read, knows every blob where it lies', async (t) => {
  const made = await createTestRepository(t);
  const saved = [];
  // One index file per flush: more files than are read ahead at once.
  for (let i = 0; i < 20; i += 1) {
    saved.push(await made.repository.saveBlob('data', seededBytes(`blob ${i}`, 3000 + i)));
    await made.repository.flush();
  }
  const expected = saved.map(({ id }) => made.repository.index.get(id));
  await made.repository.close();

  const backend = new IndexWatchingBackend(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD);
  t.after(() => repository.close());
  assert.equal(backend.indexReads, 20);
  assert.equal(repository.index.size, 20);
  for (const [i, { id }] of saved.entries()) assert.deepEqual(repository.index.get(id), expected[i], `blob ${i}`);
});

test('an index file another one supersedes is not in force, though both are there (a prune interrupted before deleting it)', async (t) => {
  const made = await createTestRepository(t);
  const { repository } = made;
  const dropped = await repository.saveBlob('data', seededBytes('dropped', 5000));
  await repository.flush();
  const kept = await repository.saveBlob('data', seededBytes('kept', 5000));
  await repository.flush();
  const files = await repository.readIndexFiles();
  assert.equal(files.length, 2);
  const droppedFile = files.find(({ content }) => content.packs.some((pack) => pack.blobs.some((blob) => blob.id.equals(dropped.id))));
  assert.ok(droppedFile);
  const oldBytes = await repository.backend.read({ type: 'index', name: droppedFile.id });

  // As prune does: one replacement naming both old files as superseded, then the old files deleted; then
  // the dropped blob's old file put back, as if the prune had stopped before deleting it.
  const keptPacks = files.flatMap(({ content }) => content.packs.filter((pack) => pack.blobs.some((blob) => blob.id.equals(kept.id))));
  await repository.replaceIndex(keptPacks, files.map(({ id }) => id));
  await repository.backend.write({ type: 'index', name: droppedFile.id }, oldBytes);
  await repository.close();

  const reopened = await made.reopen();
  t.after(() => reopened.close());
  assert.ok(reopened.hasBlob(kept.id));
  assert.ok(!reopened.hasBlob(dropped.id), 'a blob only a superseded index file names is not known');
  assert.equal(reopened.index.size, 1);
  assert.deepEqual((await reopened.readIndexFiles()).map(({ id }) => id).includes(droppedFile.id), false);
});

test('a listing that gives index files no usable size still opens the whole index (it only cannot be sized at once)', async (t) => {
  const made = await createTestRepository(t);
  const saved = [];
  for (let i = 0; i < 3; i += 1) {
    saved.push(await made.repository.saveBlob('data', seededBytes(`sizeless ${i}`, 4000)));
    await made.repository.flush();
  }
  await made.repository.close();

  class SizelessListing extends LocalBackend {
    override async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
      for await (const { name } of super.list(type)) yield { name, size: Number.NaN };
    }
  }
  const repository = await Repository.open(new SizelessListing(made.path), TEST_PASSWORD);
  t.after(() => repository.close());
  for (const { id } of saved) assert.ok(repository.hasBlob(id));
  assert.equal(repository.index.size, 3);
});
