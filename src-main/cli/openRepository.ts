import { backendFor } from '../engine/backend/location.js';
import { Repository } from '../engine/repository/repository.js';
import { UsageError } from './cliError.js';
import type { OptionValues } from './command.js';
import { readPassword } from './password.js';

export function repositoryLocation(values: OptionValues): string {
  const location = (values.repo as string | undefined) ?? process.env.HINDSIGHT_REPO;
  if (!location) throw new UsageError('Which repository? Give --repo LOCATION or set HINDSIGHT_REPO.');
  return location;
}

/** Opens the repository named by --repo / HINDSIGHT_REPO with the password from --password-file, HINDSIGHT_PASSWORD or a prompt. */
export async function openRepository(values: OptionValues): Promise<Repository> {
  const backend = backendFor(repositoryLocation(values));
  const password = await readPassword({ file: values['password-file'] as string | undefined, env: 'HINDSIGHT_PASSWORD', prompt: 'Repository password' });
  return Repository.open(backend, password);
}

/** Reads a new password for `key add` and `key passwd`: --new-password-file, HINDSIGHT_NEW_PASSWORD, or asked twice. */
export function readNewPassword(values: OptionValues): Promise<string> {
  return readPassword({ file: values['new-password-file'] as string | undefined, env: 'HINDSIGHT_NEW_PASSWORD', prompt: 'New password' }, true);
}

/**
 * Opens the repository under a shared lock, so a prune cannot delete packs
 * while they are read, with the index reloaded after the lock; runs `work`;
 * then releases the lock and closes the repository.
 */
export async function withReadLock<T>(values: OptionValues, work: (repository: Repository) => Promise<T>): Promise<T> {
  const repository = await openRepository(values);
  try {
    const lock = await repository.lock(false);
    try {
      await repository.reloadIndex();
      return await work(repository);
    } finally {
      await lock.release();
    }
  } finally {
    await repository.close();
  }
}
