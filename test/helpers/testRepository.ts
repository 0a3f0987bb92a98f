import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import type { Argon2Params } from '../../src-main/engine/crypto/passwordKey.js';
import type { ConfigOptions } from '../../src-main/engine/repository/config.js';
import { Repository, type RepositoryOptions } from '../../src-main/engine/repository/repository.js';
import { tempDir } from './tempDir.js';

export const TEST_PASSWORD = 'correct horse battery staple';

/** Cheap Argon2 settings so tests that create many keys stay fast; the KDF itself is tested with the defaults. */
export const FAST_KDF: Argon2Params = { memoryKiB: 1024, iterations: 1, parallelism: 1 };

export interface TestRepository {
  readonly path: string;
  readonly repository: Repository;
  reopen(password?: string, options?: RepositoryOptions): Promise<Repository>;
}

/** A throwaway local repository, removed when the test ends. */
export async function createTestRepository(
  t: TestContext,
  config: ConfigOptions = {},
  options: RepositoryOptions = {},
): Promise<TestRepository> {
  const path = join(await tempDir(t), 'repo');
  const repository = await Repository.init(new LocalBackend(path), { password: TEST_PASSWORD, kdf: FAST_KDF, ...config }, options);
  return {
    path,
    repository,
    reopen: (password = TEST_PASSWORD, reopenOptions = options) => Repository.open(new LocalBackend(path), password, reopenOptions),
  };
}
