import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { compressibleBytes, seededBytes } from '../../helpers/data.js';
import { createTestRepository } from '../../helpers/testRepository.js';

const MiB = 1024 * 1024;

test('blobs of many sizes survive pack, index and reopen byte for byte', async (t) => {
  const { repository, reopen, path } = await createTestRepository(t, { packSize: 4 * MiB });
  const blobs = [
    seededBytes('empty', 0),
    seededBytes('one', 1),
    seededBytes('small', 100),
    compressibleBytes('text', 4095),
    seededBytes('chunk', MiB),
    compressibleBytes('big-text', 3 * MiB + 17),
    seededBytes('huge', 16 * MiB),
  ];
  const ids: Buffer[] = [];
  for (const [i, blob] of blobs.entries()) {
    const { id, stored } = await repository.saveBlob(i % 2 === 0 ? 'data' : 'tree', blob);
    assert.equal(stored, true);
    ids.push(id);
  }
  await repository.flush();

  const reopened = await reopen();
  assert.equal(reopened.index.size, blobs.length);
  for (const [i, blob] of blobs.entries()) {
    const loaded = await reopened.loadBlob(ids[i] as Buffer);
    assert.ok(loaded.equals(blob), `blob ${i} (${blob.length} bytes) differs after reopening`);
    assert.equal(reopened.index.get(ids[i] as Buffer)?.type, i % 2 === 0 ? 'data' : 'tree');
  }
  // The 16 MiB blob is larger than the 4 MiB pack target: it gets a pack of its own rather than swelling a shared one.
  const hugePack = reopened.index.get(ids[6] as Buffer)?.pack;
  assert.deepEqual([...reopened.index.blobs()].filter((b) => b.pack === hugePack).length, 1);
  // The rest: one pack of data blobs, one of tree blobs.
  assert.equal([...reopened.index.packs()].length, 3);
  assert.ok((await readdir(join(path, 'index'))).length >= 1);
});

test('compressible blobs are stored compressed, incompressible ones raw', async (t) => {
  const { repository } = await createTestRepository(t);
  const text = await repository.saveBlob('data', compressibleBytes('logs', MiB));
  const noise = await repository.saveBlob('data', seededBytes('noise', MiB));
  await repository.flush();
  const textLocation = repository.index.get(text.id);
  const noiseLocation = repository.index.get(noise.id);
  assert.equal(textLocation?.compressed, true);
  assert.ok((textLocation?.length ?? Infinity) < MiB / 4, 'text should shrink to well under a quarter');
  assert.equal(noiseLocation?.compressed, false);
  assert.equal(noiseLocation?.length, MiB + 16);
});

test('compression level 0 stores everything raw', async (t) => {
  const { repository } = await createTestRepository(t, { compressionLevel: 0 });
  const { id } = await repository.saveBlob('data', compressibleBytes('logs', 100_000));
  await repository.flush();
  assert.equal(repository.index.get(id)?.compressed, false);
  assert.ok((await repository.loadBlob(id)).equals(compressibleBytes('logs', 100_000)));
});

test('identical blobs are stored once, within a session and after reopening', async (t) => {
  const { repository, reopen } = await createTestRepository(t);
  const data = seededBytes('dup', 200_000);
  const first = await repository.saveBlob('data', data);
  const second = await repository.saveBlob('data', Buffer.from(data));
  assert.equal(first.stored, true);
  assert.equal(second.stored, false);
  assert.deepEqual(first.id, second.id);
  await repository.flush();
  const reopened = await reopen();
  assert.equal((await reopened.saveBlob('data', data)).stored, false);
  await reopened.flush();
  assert.equal(reopened.index.size, 1);
  assert.equal(reopened.index.packCount, 1);
});

test('pack headers list exactly what the index says', async (t) => {
  const { repository } = await createTestRepository(t, { packSize: 256 * 1024 });
  for (let i = 0; i < 40; i++) await repository.saveBlob(i % 3 === 0 ? 'tree' : 'data', seededBytes(`b${i}`, 10_000 + i * 997));
  await repository.flush();
  const byPack = new Map<string, string[]>();
  for (const blob of repository.index.blobs()) byPack.set(blob.pack, [...(byPack.get(blob.pack) ?? []), `${blob.id.toString('hex')}@${blob.offset}+${blob.length}`]);
  assert.ok(byPack.size > 1);
  for (const [pack, expected] of byPack) {
    const header = await repository.readPackHeader(pack);
    assert.deepEqual(header.map((b) => `${b.id.toString('hex')}@${b.offset}+${b.length}`).sort(), expected.sort());
  }
});

test('trees and file data never share a pack, so a lost data pack cannot hide the folder structure', async (t) => {
  const { repository, reopen } = await createTestRepository(t, { packSize: 256 * 1024 });
  for (let i = 0; i < 40; i++) await repository.saveBlob(i % 3 === 0 ? 'tree' : 'data', seededBytes(`b${i}`, 10_000 + i * 997));
  await repository.flush();
  const check = (blobs: Iterable<{ pack: string; type: string }>) => {
    const types = new Map<string, Set<string>>();
    for (const blob of blobs) types.set(blob.pack, (types.get(blob.pack) ?? new Set()).add(blob.type));
    assert.ok([...types.values()].some((set) => set.has('tree')) && [...types.values()].some((set) => set.has('data')));
    for (const [pack, set] of types) assert.equal(set.size, 1, `pack ${pack} mixes ${[...set].join(' and ')}`);
  };
  check(repository.index.blobs());
  const reopened = await reopen();
  const repacked = await reopened.repackBlobs([...reopened.index.blobs()]);
  check(repacked.flatMap((pack) => pack.blobs.map((blob) => ({ pack: pack.id.toString('hex'), type: blob.type }))));
});

test('a blob that is not in the index is reported as missing', async (t) => {
  const { repository } = await createTestRepository(t);
  await assert.rejects(repository.loadBlob(Buffer.alloc(32, 7)), { code: 'E_BLOB_NOT_FOUND' });
});
