import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { gatherSealedBlobs, gatheredRow } from '../../../src-main/engine/repository/blobBatch.js';
import { openSealedBlob } from '../../../src-main/engine/repository/sealedBlobs.js';
import { PackedChunk } from '../../../src-main/engine/workers/packedChunks.js';
import { seededBytes } from '../../helpers/data.js';
import { createTestRepository } from '../../helpers/testRepository.js';

test('blobs gathered sealed, with gaps, repeats and an unknown id, open to exactly what was saved', async (t) => {
  // Compressible and incompressible blobs, in two packs (64 KiB each), so ranges span packs and some blobs are stored raw.
  const { repository } = await createTestRepository(t, { packSize: 64 * 1024 });
  const saved: { id: Buffer; bytes: Buffer }[] = [];
  for (let i = 0; i < 40; i++) {
    const bytes = i % 3 === 0 ? Buffer.alloc(2000 + i * 50, i) : seededBytes(`blob ${i}`, 1500 + i * 90);
    saved.push({ id: (await repository.saveBlob('data', bytes)).id, bytes });
  }
  await repository.flush();
  assert.ok(repository.index.packCount >= 2, 'the blobs span several packs');

  // Every third blob left out (gaps between the ones read), two asked for twice, one id nobody saved.
  const unknown = randomBytes(32);
  const wanted = saved.filter((_, i) => i % 3 !== 1);
  const ids = [...wanted.map((blob) => blob.id), (saved[5] as { id: Buffer }).id, unknown, (saved[0] as { id: Buffer }).id];
  const gathered = await gatherSealedBlobs(repository, ids);

  assert.deepEqual([...gathered.unread], [unknown.toString('hex')]);
  assert.equal(gathered.entries.length, ids.length);
  assert.equal(gathered.entries[ids.length - 2], -1, 'the unknown id has no entry');
  assert.equal(gatheredRow(gathered, -1), -1);
  const rows = new Set<number>();
  const blob = new PackedChunk(gathered.table);
  for (const [i, id] of ids.entries()) {
    if (id === unknown) continue;
    const entry = gathered.entries[i] as number;
    assert.equal(entry, repository.index.entryOf(id));
    const row = gatheredRow(gathered, entry);
    assert.ok(row >= 0, `blob ${i} was gathered`);
    rows.add(row);
    blob.moveTo(row);
    assert.deepEqual(Buffer.from(blob.id), id);
    const location = repository.index.location(entry);
    assert.deepEqual({ offset: blob.offset, length: blob.length, compressed: blob.compressed, rawLength: blob.rawLength }, { offset: location.offset, length: location.length, compressed: location.compressed, rawLength: location.rawLength });
    const plaintext = openSealedBlob(gathered.keys, repository.blobIdKey, gathered.sealed, blob, new Uint8Array(blob.rawLength));
    assert.deepEqual(Buffer.from(plaintext), saved.find((s) => s.id.equals(id))?.bytes);
  }
  assert.equal(rows.size, wanted.length, 'a blob asked for twice is gathered once');
  assert.equal(gathered.sealed.byteLength, wanted.reduce((sum, { id }) => sum + repository.index.lengthOf(repository.index.entryOf(id)), 0), 'the gaps are not kept');
});
