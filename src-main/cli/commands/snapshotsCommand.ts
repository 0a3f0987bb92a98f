import { formatBytes, formatLocalTime } from '../../../src-shared/units.js';
import { listMatchingSnapshots } from '../../engine/snapshot/snapshotSelection.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, SNAPSHOT_FILTER_HELP, SNAPSHOT_FILTER_OPTIONS, snapshotFilter, type Command } from '../command.js';
import { openRepository } from '../openRepository.js';

export const snapshotsCommand: Command = {
  name: 'snapshots',
  summary: 'list the snapshots in a repository',
  help: `Usage: hindsight snapshots --repo LOCATION [--host HOST] [--path PATH] [--tag TAGS] [--json]

Lists every snapshot, oldest first, with its time (local), host, type, tags
and paths, and how much it added to the repository.

Options:
${REPOSITORY_HELP}
${SNAPSHOT_FILTER_HELP}
      --json                print the list as JSON`,
  options: { ...REPOSITORY_OPTIONS, ...SNAPSHOT_FILTER_OPTIONS, json: { type: 'boolean' } },
  async run(values) {
    const repository = await openRepository(values);
    try {
      const snapshots = await listMatchingSnapshots(repository, snapshotFilter(values));
      if (values.json) {
        console.log(JSON.stringify(snapshots, null, 2));
        return;
      }
      const tags = (s: (typeof snapshots)[number]) => s.tags.join(',') || '-';
      const tagsWidth = Math.max(4, ...snapshots.map((s) => tags(s).length));
      console.log(`ID        Time                 Host             Type          Added      ${'Tags'.padEnd(tagsWidth)}  Paths`);
      for (const s of snapshots) {
        console.log(`${s.id.slice(0, 8)}  ${formatLocalTime(s.time)}  ${s.host.padEnd(15).slice(0, 15)}  ${s.type.padEnd(12)}  ${formatBytes(s.summary.bytesAdded).padStart(9)}  ${tags(s).padEnd(tagsWidth)}  ${s.paths.join(' ')}`);
      }
      console.log(`${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'}`);
    } finally {
      await repository.close();
    }
  },
};
