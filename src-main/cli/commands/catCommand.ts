import { once } from 'node:events';
import { RepositoryError } from '../../engine/repository/repositoryError.js';
import { selectSnapshot } from '../../engine/snapshot/snapshotSelection.js';
import { findPath, splitReference } from '../../engine/snapshot/treePath.js';
import { stopIfAborted } from '../../engine/interruption.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, SNAPSHOT_FILTER_HELP, SNAPSHOT_FILTER_OPTIONS, snapshotFilter, type Command } from '../command.js';
import { withReadLock } from '../openRepository.js';

export const catCommand: Command = {
  name: 'cat',
  summary: 'write one file from a snapshot to standard output',
  help: `Usage: hindsight cat --repo LOCATION SNAPSHOT:FILE

Streams the file at FILE in the snapshot to standard output, verifying every
chunk as it goes. SNAPSHOT "latest" is the newest snapshot that holds FILE
(and matches --host, --path and --tag).

Options:
${REPOSITORY_HELP}
${SNAPSHOT_FILTER_HELP}`,
  options: { ...REPOSITORY_OPTIONS, ...SNAPSHOT_FILTER_OPTIONS },
  takesArguments: true,
  interruptible: true,
  async run(values, positionals, { signal }) {
    if (positionals.length !== 1 || !positionals[0]?.includes(':')) throw new UsageError('Say which file: hindsight cat SNAPSHOT:/path/to/file.');
    const { snapshot: reference, path } = splitReference(positionals[0]);
    await withReadLock(values, async (repository) => {
      const snapshot = await selectSnapshot(repository, reference, { path, filter: snapshotFilter(values) });
      const target = await findPath(repository, snapshot, path);
      if (target.kind !== 'entry' || target.node.type !== 'file') {
        throw new RepositoryError('E_PATH_NOT_FOUND', `${path} in snapshot ${snapshot.id.slice(0, 8)} is not a file.`);
      }
      for (const id of target.node.content ?? []) {
        stopIfAborted(signal, 'cat interrupted.');
        // Waits for 'drain', or for the signal when the reader has gone (a closed pipe never drains).
        if (!process.stdout.write(await repository.loadBlob(id))) await once(process.stdout, 'drain', { signal }).catch(() => undefined);
      }
    });
  },
};
