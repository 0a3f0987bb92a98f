import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Repository } from '../../../src-main/engine/repository/repository.js';
import { compressibleBytes, flipBit, samplePositions, seededBytes } from '../../helpers/data.js';
import { createTestRepository, type TestRepository } from '../../helpers/testRepository.js';

async function repositoryWithData(t: Parameters<typeof createTestRepository>[0]): Promise<TestRepository & { ids: Buffer[] }> {
  const made = await createTestRepository(t, { packSize: 1024 * 1024 });
  const ids: Buffer[] = [];
  for (let i = 0; i < 6; i++) {
    const data = i % 2 === 0 ? seededBytes(`t${i}`, 70_000 + i) : compressibleBytes(`t${i}`, 90_000 + i);
    ids.push((await made.repository.saveBlob('data', data)).id);
  }
  await made.repository.flush();
  return { ...made, ids };
}

async function onlyFile(folder: string): Promise<string> {
  const names = (await readdir(folder, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  assert.equal(names.length, 1, `expected one file in ${folder}`);
  return join(names[0]?.parentPath ?? folder, names[0]?.name ?? '');
}

/**
 * Reads the pack's header and every blob the index places in it, whole (loadBlob) and a part at a time
 * (readBlob, once read through and once not read at all by its caller): the two ways must agree on every
 * blob, in bytes when sound and in refusing when not. Resolves to the first error.
 */
async function verifyPack(repository: Repository, pack: string): Promise<unknown> {
  try {
    await repository.readPackHeader(pack);
  } catch (err) {
    return err;
  }
  for (const blob of repository.index.blobs()) {
    if (blob.pack !== pack) continue;
    const outcome = (read: Promise<Buffer | undefined>) => read.then((bytes) => ({ bytes }), (error: unknown) => ({ error }));
    const whole = await outcome(repository.loadBlob(blob.id));
    const unread = await outcome(repository.readBlob(blob.id, () => undefined));
    const parts = await outcome(
      repository.readBlob(blob.id, (reader) => {
        const read: Buffer[] = [];
        const part = Buffer.alloc(5000);
        for (let count; (count = reader.read(part)) > 0; ) read.push(Buffer.from(part.subarray(0, count)));
        return Buffer.concat(read);
      }),
    );
    assert.deepEqual(['error' in unread, 'error' in parts], ['error' in whole, 'error' in whole], 'loadBlob and readBlob refuse the same blobs');
    if ('error' in whole) return whole.error;
    assert.ok('bytes' in parts && parts.bytes?.equals(whole.bytes!), 'readBlob gives the bytes loadBlob gives');
  }
  return undefined;
}

test('a wrong password is refused with a clear error', async (t) => {
  const { reopen, path } = await createTestRepository(t);
  await assert.rejects(reopen('not the password'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_WRONG_PASSWORD');
    assert.match(err.message, /Wrong password/);
    assert.ok(err.message.includes(path));
    return true;
  });
});

test('every sampled flipped bit in a pack is detected', async (t) => {
  const { repository, path } = await repositoryWithData(t);
  const packFile = await onlyFile(join(path, 'data'));
  const pack = packFile.split('/').pop() as string;
  const original = await readFile(packFile);
  assert.equal(await verifyPack(repository, pack), undefined, 'the untouched pack must verify');
  // An even spread covers blob bodies and tags; every third byte of the last 320 covers the sealed header and the trailer.
  const positions = new Set([...samplePositions(original.length, 120), ...Array.from({ length: 107 }, (_, i) => original.length - 1 - 3 * i)]);
  for (const position of positions) {
    await writeFile(packFile, flipBit(original, position, position % 8));
    const err = (await verifyPack(repository, pack)) as { code?: string; message?: string } | undefined;
    assert.ok(err, `flipping a bit at byte ${position} of ${original.length} went unnoticed`);
    assert.equal(err.code, 'E_DAMAGED', `byte ${position}: ${String(err.message)}`);
    assert.match(err.message ?? '', /damaged or was modified/);
  }
  await writeFile(packFile, original);
  assert.equal(await verifyPack(repository, pack), undefined);
});

test('every sampled flipped bit in an index file is detected, even if the file is renamed to match', async (t) => {
  const { reopen, path } = await repositoryWithData(t);
  const indexFile = await onlyFile(join(path, 'index'));
  const original = await readFile(indexFile);
  for (const position of samplePositions(original.length, 60)) {
    const tampered = flipBit(original, position, 3);
    await writeFile(indexFile, tampered);
    await assert.rejects(reopen(), { code: 'E_DAMAGED', message: /Index file index\/[0-9a-f]+ is damaged .*does not match its name/ });
    // An attacker who also renames the file to its new hash is caught by authentication.
    const renamed = join(path, 'index', createHash('sha256').update(tampered).digest('hex'));
    await rename(indexFile, renamed);
    await assert.rejects(reopen(), { code: 'E_DAMAGED', message: /Index file .* is damaged/ });
    await rename(renamed, indexFile);
  }
  await writeFile(indexFile, original);
  await reopen();
});

test('every sampled flipped bit in a key file is detected', async (t) => {
  const { reopen, path } = await createTestRepository(t);
  const keyFile = await onlyFile(join(path, 'keys'));
  const original = await readFile(keyFile);
  for (const position of samplePositions(original.length, 60)) {
    await writeFile(keyFile, flipBit(original, position, 1));
    await assert.rejects(reopen(), { code: 'E_DAMAGED', message: /Key file keys\/[0-9a-f]+ is damaged/ });
  }
  await writeFile(keyFile, original);
  await reopen();
});

test('every sampled flipped bit in the config is detected', async (t) => {
  const { reopen, path } = await createTestRepository(t);
  const configFile = join(path, 'config');
  const original = await readFile(configFile);
  for (const position of samplePositions(original.length, 60)) {
    await writeFile(configFile, flipBit(original, position, 5));
    await assert.rejects(reopen(), { code: 'E_DAMAGED', message: /The repository config is damaged/ });
  }
  await writeFile(configFile, original);
  await reopen();
});

test('a blob moved to another place in its pack fails authentication', async (t) => {
  const { repository, path } = await repositoryWithData(t);
  const packFile = await onlyFile(join(path, 'data'));
  const original = await readFile(packFile);
  const [a, b] = [...repository.index.blobs()].sort((x, y) => x.offset - y.offset);
  assert.ok(a && b);
  // Copy blob a's bytes over the start of blob b: same key, wrong nonce.
  const swapped = Buffer.from(original);
  original.copy(swapped, b.offset, a.offset, a.offset + Math.min(a.length, b.length));
  await writeFile(packFile, swapped);
  await assert.rejects(repository.loadBlob(b.id), { code: 'E_DAMAGED' });
});
