import { formatBytes, parseBytes } from '../../../src-shared/units.js';
import { checkNewRepositoryFolder } from '../../engine/backend/newRepositoryFolder.js';
import { Repository } from '../../engine/repository/repository.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { openOrClose, repositoryBackend, repositoryLocations } from '../openRepository.js';
import { readPassword } from '../password.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a new encrypted repository',
  help: `Usage: hindsight init --repo LOCATION [options]

Creates an empty, encrypted repository. The password protects everything in
it: without it nothing can be restored, so keep it somewhere safe.
A folder must be new or empty, and the folder above it must exist (a missing
one is what an unmounted disk looks like), unless --create-parents is given.

Options:
${REPOSITORY_HELP}
      --compression LEVEL   zstd level 0-19 (0 = off); default 3
      --pack-size SIZE      target pack size, e.g. 16MiB (default)
      --create-parents      create the missing folders above the repository`,
  options: {
    ...REPOSITORY_OPTIONS,
    compression: { type: 'string' },
    'pack-size': { type: 'string' },
    'create-parents': { type: 'boolean' },
  },
  async run(values) {
    const backend = repositoryBackend(values);
    const compressionLevel = values.compression === undefined ? undefined : Number(values.compression);
    if (compressionLevel !== undefined && !Number.isInteger(compressionLevel)) throw new UsageError('--compression takes a whole number from 0 to 19.');
    const packSize = values['pack-size'] === undefined ? undefined : parseBytes(values['pack-size'] as string);
    if (values['pack-size'] !== undefined && packSize === undefined) throw new UsageError('--pack-size takes a size such as 16MiB.');
    for (const location of repositoryLocations(values)) await checkNewRepositoryFolder(location, { createParents: values['create-parents'] === true, createParentsHint: 'add --create-parents' });
    const password = await readPassword({ file: values['password-file'] as string | undefined, env: 'HINDSIGHT_PASSWORD', prompt: 'Password for the new repository' }, true);
    const repository = await openOrClose(backend, () => Repository.init(backend, { password, compressionLevel, packSize }));
    console.log(`Created repository ${repository.config.id.slice(0, 8)} at ${backend.location}`);
    console.log(`  compression zstd ${repository.config.compression.level}, packs of ${formatBytes(repository.config.packSize)}, key ${repository.keyId.slice(0, 8)}`);
    console.log('Keep the password safe: without it the backups cannot be restored.');
    await repository.close();
  },
};
