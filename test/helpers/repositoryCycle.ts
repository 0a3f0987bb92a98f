import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Backend } from '../../src-main/engine/backend/backend.js';
import { backup } from '../../src-main/engine/archiver/backup.js';
import { checkRepository } from '../../src-main/engine/maintenance/check.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { restore } from '../../src-main/engine/restorer/restore.js';
import { seededBytes } from './data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from './fileTree.js';
import { tempDir } from './tempDir.js';
import { FAST_KDF, TEST_PASSWORD } from './testRepository.js';

/**
 * init, backup, reopen, restore (compared byte for byte with the source,
 * with modes, times and links) and check --read-data on `backend`: the whole
 * life of a repository on one target. `packSize` small enough makes several
 * packs (and, on S3, multipart uploads).
 */
export async function assertRepositoryCycle(
  t: TestContext,
  makeBackend: () => Backend,
  options: { packSize?: number; bigFileBytes?: number; chunker?: { minSize: number; avgSize: number; maxSize: number } } = {},
): Promise<void> {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 30 });
  if (options.bigFileBytes) await writeFile(join(source, 'big.bin'), seededBytes('big', options.bigFileBytes));
  const created = await Repository.init(makeBackend(), { password: TEST_PASSWORD, kdf: FAST_KDF, ...(options.packSize ? { packSize: options.packSize } : {}), ...(options.chunker ? { chunker: options.chunker } : {}) });
  const { snapshot } = await backup(created, { paths: [source], cacheDir: join(dir, 'cache') });
  await created.close();

  const repository = await Repository.open(makeBackend(), TEST_PASSWORD);
  try {
    const target = join(dir, 'restored');
    const result = await restore(repository, { snapshot, path: source, target });
    assert.deepEqual(result.problems, []);
    assertSameTree(await describeTree(target), await describeTree(source));
    const check = await checkRepository(repository, { readData: { kind: 'all' } });
    assert.deepEqual(check.errors, []);
    assert.ok(check.packsRead > 0);
  } finally {
    await repository.close();
  }
}
