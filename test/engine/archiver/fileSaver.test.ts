import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { BlobSaver } from '../../../src-main/engine/archiver/blobSaver.js';
import { FileSaver, type FileContent, type PreviousChunks } from '../../../src-main/engine/archiver/fileSaver.js';
import type { ObjectHandle } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { gearTable } from '../../../src-main/engine/chunker/gearTable.js';
import { Repository } from '../../../src-main/engine/repository/repository.js';
import { Gate, gatedWriter } from '../../fixtures/wrappedBackends.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';
import { TEST_PASSWORD, createTestRepository } from '../../helpers/testRepository.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNKER = { minSize: 16 * KiB, avgSize: 32 * KiB, maxSize: 128 * KiB };

async function fileSaver(t: TestContext) {
  const made = await createTestRepository(t, { chunker: CHUNKER });
  const repository = made.repository;
  const saver = new BlobSaver(repository);
  const files = new FileSaver(saver, { workers: 2, blobIdKey: repository.blobIdKey, gear: gearTable(repository.chunkerSeed), chunker: CHUNKER, level: 3 });
  t.after(() => files.close());
  const path = join(await tempDir(t), 'file.bin');
  /** The chunks of an earlier read as previous chunks, with their lengths as the index has them. */
  const previousOf = (content: FileContent): PreviousChunks => ({ ids: content.ids, lengths: content.ids.map((id) => repository.index.get(id)?.rawLength ?? 0) });
  /** Writes `content` and reads it with `previous` (none: a read from scratch). */
  const read = async (content: Buffer, previous: PreviousChunks = { ids: [], lengths: [] }): Promise<FileContent> => {
    await writeFile(path, content);
    const result = await files.read(Buffer.from(path), content.length, previous, () => undefined);
    assert.ok(!('failed' in result), 'read failed');
    await saver.flush();
    return result;
  };
  return { read, previousOf, files, repository, saver };
}

const hex = (content: FileContent) => content.ids.map((id) => id.toString('hex'));

/** Every edit of a 3 MiB file, and how many bytes the chunker may run over at most when the previous chunks are given. */
function edits(): { name: string; before: Buffer; after: Buffer; chunkedAtMost: number }[] {
  const base = seededBytes('base', 3 * MiB);
  const zeros = Buffer.alloc(MiB);
  const repetitive = Buffer.concat([zeros, seededBytes('middle', MiB), zeros]);
  const around = (at: number, insert: Buffer, remove = 0) => Buffer.concat([base.subarray(0, at), insert, base.subarray(at + remove)]);
  return [
    { name: 'append', before: base, after: Buffer.concat([base, seededBytes('tail', 100 * KiB)]), chunkedAtMost: 100 * KiB + 2 * CHUNKER.maxSize },
    { name: 'insertion in the middle', before: base, after: around(1.5 * MiB, seededBytes('ins', 50 * KiB)), chunkedAtMost: 50 * KiB + 6 * CHUNKER.maxSize },
    { name: 'deletion in the middle', before: base, after: around(MiB, Buffer.alloc(0), 200 * KiB), chunkedAtMost: 6 * CHUNKER.maxSize },
    { name: 'overwrite in place', before: base, after: around(MiB, seededBytes('over', 10 * KiB), 10 * KiB), chunkedAtMost: 10 * KiB + 6 * CHUNKER.maxSize },
    { name: 'truncation', before: base, after: base.subarray(0, 2 * MiB + 12345), chunkedAtMost: 2 * CHUNKER.maxSize },
    { name: 'one byte in front', before: base, after: Buffer.concat([Buffer.from([7]), base]), chunkedAtMost: 6 * CHUNKER.maxSize },
    { name: 'repeated chunks, appended to', before: repetitive, after: Buffer.concat([repetitive, seededBytes('more', 64 * KiB)]), chunkedAtMost: 64 * KiB + 2 * CHUNKER.maxSize },
    { name: 'replaced entirely', before: base, after: seededBytes('other', 3 * MiB), chunkedAtMost: 3 * MiB },
    { name: 'unchanged', before: base, after: base, chunkedAtMost: CHUNKER.maxSize },
  ];
}

test('a changed file read with its previous chunks gives exactly the chunks of a read from scratch, and the chunker runs only near the change', async (t) => {
  const { read, previousOf } = await fileSaver(t);
  for (const edit of edits()) {
    const before = await read(edit.before);
    const incremental = await read(edit.after, previousOf(before));
    const scratch = await read(edit.after);
    assert.deepEqual(hex(incremental), hex(scratch), edit.name);
    assert.equal(incremental.bytes, edit.after.length, edit.name);
    assert.equal(scratch.chunked, edit.after.length, `${edit.name}: a read from scratch runs the chunker over everything`);
    assert.ok(incremental.chunked <= edit.chunkedAtMost, `${edit.name}: the chunker ran over ${incremental.chunked} bytes`);
  }
});

test('previous chunks that are wrong, or not in the repository, do not change what is read', async (t) => {
  const { read, previousOf } = await fileSaver(t);
  const base = seededBytes('base', MiB);
  const before = previousOf(await read(base));
  const after = Buffer.concat([base, seededBytes('tail', 10 * KiB)]);
  const scratch = hex(await read(after));
  const stranger = previousOf(await read(seededBytes('other', MiB)));
  assert.deepEqual(hex(await read(after, stranger)), scratch, "another file's chunks");
  const absent = await read(after, { ids: before.ids, lengths: before.lengths.map(() => 0) });
  assert.deepEqual(hex(absent), scratch, 'chunks the repository lacks');
  assert.equal(absent.chunked, after.length, 'chunks the repository lacks are never compared');
  const misMeasured = await read(after, { ids: before.ids, lengths: before.lengths.map((length, i) => (i === 2 ? length + 1 : length)) });
  assert.deepEqual(hex(misMeasured), scratch, 'a wrong length');
});

test('one worker reads files checked against their last chunks; another starts only when new bytes back up', async (t) => {
  const { read, previousOf, files, saver } = await fileSaver(t);
  const dir = await tempDir(t);
  const contents = Array.from({ length: 6 }, (_, i) => seededBytes(`file ${i}`, 2 * MiB));
  const earlier: PreviousChunks[] = [];
  for (const content of contents) earlier.push(previousOf(await read(content)));
  assert.equal(files.workersStarted, 1, 'files read one at a time need one worker');

  // Six files of 2 MiB, each with 16 KiB appended, all at once: 96 KiB of new bytes.
  const paths = contents.map((_, i) => join(dir, `changed-${i}`));
  await Promise.all(paths.map((path, i) => writeFile(path, Buffer.concat([contents[i] as Buffer, seededBytes(`tail ${i}`, 16 * KiB)]))));
  const changed = await Promise.all(paths.map((path, i) => files.read(Buffer.from(path), 2 * MiB + 16 * KiB, earlier[i] as PreviousChunks, () => undefined)));
  assert.ok(changed.every((result) => !('failed' in result) && result.chunked < 512 * KiB));
  assert.equal(files.workersStarted, 1, 'checking known chunks is cheap: no second worker');

  // Six new files of 2 MiB at once: 12 MiB of new bytes wait behind the first worker.
  const fresh = Array.from({ length: 6 }, (_, i) => join(dir, `new-${i}`));
  await Promise.all(fresh.map((path, i) => writeFile(path, seededBytes(`new ${i}`, 2 * MiB))));
  const added = await Promise.all(fresh.map((path) => files.read(Buffer.from(path), 2 * MiB, { ids: [], lengths: [] }, () => undefined)));
  assert.ok(added.every((result) => !('failed' in result) && result.bytes === 2 * MiB));
  assert.equal(files.workersStarted, 2);
  await saver.flush();
});

test('a large file leaves for a worker at once; small files wait until the caller yields, to leave together', async (t) => {
  const { files, saver } = await fileSaver(t);
  const dir = await tempDir(t);
  const small = join(dir, 'small.txt');
  const large = join(dir, 'large.bin');
  await writeFile(small, seededBytes('small', 4 * KiB));
  await writeFile(large, seededBytes('large', 1 * MiB));

  const none = { ids: [], lengths: [] };
  const smallRead = files.read(Buffer.from(small), 4 * KiB, none, () => undefined);
  assert.equal(files.workersStarted, 0, 'a small file waits for the rest of its folder');
  const largeRead = files.read(Buffer.from(large), 1 * MiB, none, () => undefined);
  assert.equal(files.workersStarted, 1, 'a large file is handed over before read() returns');
  const [smallResult, largeResult] = await Promise.all([smallRead, largeRead]);
  assert.ok(!('failed' in smallResult) && smallResult.bytes === 4 * KiB);
  assert.ok(!('failed' in largeResult) && largeResult.bytes === 1 * MiB);
  await saver.flush();
});

/** A local backend whose pack writes wait until the test opens the gate: chunks pile up in the ring meanwhile. */
class GatedBackend extends LocalBackend {
  readonly gate = new Gate();

  override createWriter(handle: ObjectHandle) {
    const writer = super.createWriter(handle);
    return handle.type === 'data' ? gatedWriter(writer, this.gate) : writer;
  }
}

test('chunks pass through a small ring, released only in ring order, and every stored chunk is the file\'s bytes', async (t) => {
  const made = await createTestRepository(t, { chunker: CHUNKER, packSize: 256 * KiB });
  await made.repository.close();
  const backend = new GatedBackend(made.path);
  const repository = await Repository.open(backend, TEST_PASSWORD, { uploadConcurrency: 1 });
  t.after(() => repository.close());
  const saver = new BlobSaver(repository);
  // One worker, and a ring of twice the largest chunk (256 KiB).
  const files = new FileSaver(saver, { workers: 1, blobIdKey: repository.blobIdKey, gear: gearTable(repository.chunkerSeed), chunker: CHUNKER, level: 3, ringBytes: 1 });
  t.after(() => files.close());
  const dir = await tempDir(t);
  // `first` fills two packs: one waits for the closed gate, the other for an upload slot, and from then
  // on chunks wait in the ring unsealed. `again` repeats `middle`: its chunks are found already being
  // saved and are released at once, while `middle`'s, before them in the ring, still wait; `last` then
  // needs ring space, which must not be theirs.
  const first = seededBytes('ring first', 700 * KiB);
  const middle = seededBytes('ring middle', 150 * KiB);
  const last = seededBytes('ring last', 600 * KiB);
  const contents = [first, middle, middle, last];
  const paths = contents.map((_, i) => join(dir, `file-${i}`));
  await Promise.all(paths.map((path, i) => writeFile(path, contents[i] as Buffer)));
  const reads = paths.map((path, i) => files.read(Buffer.from(path), (contents[i] as Buffer).length, { ids: [], lengths: [] }, () => undefined));
  await sleep(300);
  backend.gate.open();
  const results = await Promise.all(reads);
  await saver.flush();
  for (const [i, result] of results.entries()) {
    assert.ok(!('failed' in result));
    // loadBlob authenticates each chunk and checks its id against its content: ring bytes reused too early fail here.
    const stored = Buffer.concat(await Promise.all(result.ids.map((id) => repository.loadBlob(id))));
    assert.ok(stored.equals(contents[i] as Buffer), `file ${i} comes back as it was`);
  }
});

test('a chunk a worker just sent goes as its id alone: 64 MiB of zeros is compressed and handed to the packer once', async (t) => {
  const { read, repository, saver } = await fileSaver(t);
  let handed = 0;
  const storeChunk = saver.storeChunk.bind(saver);
  saver.storeChunk = (...args) => {
    handed += 1;
    return storeChunk(...args);
  };
  const content = await read(Buffer.alloc(64 * MiB));
  assert.equal(content.ids.length, (64 * MiB) / CHUNKER.maxSize);
  assert.equal(new Set(hex(content)).size, 1);
  assert.equal(handed, 1, 'chunks sent with their content');
  assert.equal(saver.stats.dataBlobsAdded, 1);
  assert.ok(saver.stats.bytesAdded < 4 * KiB, `${saver.stats.bytesAdded} bytes added`);
  assert.ok((await repository.loadBlob(content.ids[0] as Buffer)).equals(Buffer.alloc(CHUNKER.maxSize)));
  // Repeats of data too, across files: the same 1 MiB twice in a file, then once more in another. The
  // files are read one at a time, so by one worker.
  const block = seededBytes('repeated', MiB);
  const twice = await read(Buffer.concat([block, block]));
  const before = handed;
  const again = await read(block);
  // Its chunks are the first file's (the second copy there falls back in step and ends at the file's end too).
  assert.ok(hex(again).every((id) => hex(twice).includes(id)));
  assert.equal(handed - before, 0, 'chunks of a file read just before sent with their content');
});

test('a chunk larger than half the ring goes beside it, and comes back as the file\'s bytes', async (t) => {
  // The default chunker (chunks up to 8 MiB) and ring (8 MiB): a long run of one byte has no cut point,
  // so it is cut at the largest size, twice what the ring takes.
  const made = await createTestRepository(t);
  const { repository } = made;
  const saver = new BlobSaver(repository);
  const files = new FileSaver(saver, { workers: 1, blobIdKey: repository.blobIdKey, gear: gearTable(repository.chunkerSeed), chunker: repository.config.chunker, level: 3 });
  t.after(() => files.close());
  const content = Buffer.concat([Buffer.alloc(20 * 1024 * 1024, 0x61), seededBytes('beside the ring', 3 * 1024 * 1024)]);
  const path = join(await tempDir(t), 'long-run');
  await writeFile(path, content);
  const chunkSizes: number[] = [];
  const result = await files.read(Buffer.from(path), content.length, { ids: [], lengths: [] }, (length) => void chunkSizes.push(length));
  await saver.flush();
  assert.ok(!('failed' in result));
  assert.ok(chunkSizes.some((length) => length > 4 * 1024 * 1024), `chunks of ${chunkSizes.join(', ')} bytes: one must be larger than half the ring`);
  const stored = Buffer.concat(await Promise.all(result.ids.map((id) => repository.loadBlob(id))));
  assert.ok(stored.equals(content));
});
