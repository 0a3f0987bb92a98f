import { retagSnapshots } from '../../engine/maintenance/tag.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { openRepository } from '../openRepository.js';

export const tagCommand: Command = {
  name: 'tag',
  summary: 'add, remove or set the tags of existing snapshots',
  help: `Usage: hindsight tag --repo LOCATION [--add TAG] [--remove TAG] [--set TAG] SNAPSHOT...

Changes the tags of the snapshots named (ids or their first characters). A
snapshot whose tags change gets a new id, as in restic.

Options:
${REPOSITORY_HELP}
      --add TAG             add this tag (repeatable)
      --remove TAG          remove this tag (repeatable)
      --set TAG             replace all tags with these (repeatable)`,
  options: {
    ...REPOSITORY_OPTIONS,
    add: { type: 'string', multiple: true },
    remove: { type: 'string', multiple: true },
    set: { type: 'string', multiple: true },
  },
  takesArguments: true,
  async run(values, ids) {
    const [add, remove, set] = [values.add, values.remove, values.set] as (string[] | undefined)[];
    if (!add && !remove && !set) throw new UsageError('Say what to change: --add, --remove or --set.');
    if (ids.length === 0) throw new UsageError('Say which snapshots: hindsight tag --add TAG SNAPSHOT....');
    const repository = await openRepository(values);
    try {
      const changed = await retagSnapshots(repository, ids, { ...(add ? { add } : {}), ...(remove ? { remove } : {}), ...(set ? { set } : {}) });
      for (const { before, after } of changed) {
        console.log(`snapshot ${before.id.slice(0, 8)} is now ${after.id.slice(0, 8)}, tags: ${after.tags.join(',') || '-'}`);
      }
      console.log(`${changed.length} snapshot${changed.length === 1 ? '' : 's'} changed`);
    } finally {
      await repository.close();
    }
  },
};
