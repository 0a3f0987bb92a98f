import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { OBJECT_TYPES, type Backend } from '../../src-main/engine/backend/backend.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { collect } from './backendContract.js';
import { TEST_PASSWORD } from './testRepository.js';

/** Every object under a final name is whole: sealed objects hash to their names, packs have an authentic header, and no temporary file is left. */
export async function assertNoPartialObjects(backend: Backend, folder: string | undefined): Promise<void> {
  const repository = await Repository.open(backend, TEST_PASSWORD);
  for (const type of OBJECT_TYPES) {
    for (const { name } of await collect(backend.list(type))) {
      if (type === 'data') {
        await repository.readPackHeader(name);
      } else if (type !== 'config' && type !== 'locks') {
        const bytes = await backend.read({ type, name });
        assert.equal(createHash('sha256').update(bytes).digest('hex'), name, `${type}/${name} is whole`);
      }
    }
  }
  if (folder) {
    const leftovers = (await readdir(folder, { recursive: true })).filter((path) => path.includes('.tmp-'));
    assert.deepEqual(leftovers, [], 'no temporary files are left behind');
  }
}
