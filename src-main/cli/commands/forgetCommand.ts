import { parseDuration } from '../../../src-shared/units.js';
import { forgetSnapshots } from '../../engine/maintenance/forget.js';
import { isEmptyPolicy, type RetentionPolicy } from '../../engine/maintenance/retention.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { openRepository } from '../openRepository.js';
import { PRUNE_HELP, PRUNE_OPTIONS, printPruneResult, runPrune } from './pruneCommand.js';

const COUNTS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

export const forgetCommand: Command = {
  name: 'forget',
  summary: 'remove snapshots according to a retention policy',
  help: `Usage: hindsight forget --repo LOCATION --keep-… [--dry-run] [--prune]

Removes the snapshots the policy does not keep. A snapshot kept by any rule
is kept. Days, weeks (ISO), months and years are counted in local time, per
host and set of paths. The data of removed snapshots is freed by prune.

Options:
${REPOSITORY_HELP}
      --keep-last N         the N newest snapshots
      --keep-hourly N       the newest snapshot of each of the last N hours
      --keep-daily N        … of each of the last N days
      --keep-weekly N       … of each of the last N weeks
      --keep-monthly N      … of each of the last N months
      --keep-yearly N       … of each of the last N years
      --keep-within DURATION every snapshot within DURATION (e.g. 30d) of the newest
      --keep-tag TAG        every snapshot with this tag (repeatable)
      --host HOST           only consider snapshots of this host
      --dry-run             show the decisions, remove nothing
      --prune               prune afterwards
${PRUNE_HELP}
      --json                print the decisions as JSON`,
  options: {
    ...REPOSITORY_OPTIONS,
    ...PRUNE_OPTIONS,
    ...Object.fromEntries(COUNTS.map((c) => [`keep-${c}`, { type: 'string' }])),
    'keep-within': { type: 'string' },
    'keep-tag': { type: 'string', multiple: true },
    host: { type: 'string' },
    'dry-run': { type: 'boolean' },
    prune: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const policy: { -readonly [K in keyof RetentionPolicy]: RetentionPolicy[K] } = {};
    for (const count of COUNTS) {
      const text = values[`keep-${count}`] as string | undefined;
      if (text === undefined) continue;
      if (!/^\d+$/.test(text)) throw new UsageError(`--keep-${count} takes a whole number.`);
      policy[count] = Number(text);
    }
    if (values['keep-within'] !== undefined) {
      const within = parseDuration(values['keep-within'] as string);
      if (within === undefined) throw new UsageError('--keep-within takes a duration such as 30d or 12h.');
      policy.withinMs = within;
    }
    policy.tags = (values['keep-tag'] as string[] | undefined) ?? [];
    if (isEmptyPolicy(policy)) throw new UsageError('No --keep-… rule given; refusing to remove every snapshot.');
    const dryRun = values['dry-run'] === true;
    const repository = await openRepository(values);
    try {
      const host = values.host as string | undefined;
      const decisions = await forgetSnapshots(repository, policy, { dryRun, ...(host ? { select: (s) => s.host === host } : {}) });
      if (values.json) {
        console.log(JSON.stringify(decisions.map((d) => ({ id: d.snapshot.id, time: d.snapshot.time, host: d.snapshot.host, keep: d.keep, reasons: d.reasons })), null, 2));
      } else {
        console.log('Action  ID        Time                 Host             Tags        Reasons');
        for (const d of decisions) {
          const time = new Date(d.snapshot.time).toLocaleString('sv-SE').slice(0, 19);
          console.log(`${(d.keep ? 'keep' : 'remove').padEnd(6)}  ${d.snapshot.id.slice(0, 8)}  ${time}  ${d.snapshot.host.padEnd(15).slice(0, 15)}  ${(d.snapshot.tags.join(',') || '-').padEnd(10)}  ${d.reasons.join(', ')}`);
        }
      }
      const removed = decisions.filter((d) => !d.keep).length;
      if (!values.json) console.log(`${decisions.length - removed} snapshots kept, ${removed} ${dryRun ? 'would be ' : ''}removed`);
      if (values.prune && removed > 0) printPruneResult(await runPrune(repository, values, dryRun));
    } finally {
      await repository.close();
    }
  },
};
