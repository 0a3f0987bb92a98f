import { formatCount, formatLocalTime, parseDuration } from '../../../src-shared/units.js';
import { forgetSnapshots, removeSnapshots } from '../../engine/maintenance/forget.js';
import { isEmptyPolicy, type RetentionDecision, type RetentionPolicy } from '../../engine/maintenance/retention.js';
import type { Repository } from '../../engine/repository/repository.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command, type OptionValues } from '../command.js';
import { openRepository } from '../openRepository.js';
import { retryLockFrom } from '../retryLock.js';
import { PRUNE_HELP, PRUNE_OPTIONS, printPruneResult, runPrune } from './pruneCommand.js';

const COUNTS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

export const forgetCommand: Command = {
  name: 'forget',
  summary: 'remove snapshots according to a retention policy',
  help: `Usage: hindsight forget --repo LOCATION --keep-… [--dry-run] [--prune]
       hindsight forget --repo LOCATION SNAPSHOT... [--dry-run] [--prune]

Removes the snapshots the policy does not keep, or the snapshots named (ids
or their first characters). A snapshot kept by any rule is kept. The rules
apply to each group of snapshots of one host and one set of paths on its own
(the groups are printed); days, weeks (ISO), months and years are counted in
local time. The data of removed snapshots is freed by prune.

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
  takesArguments: true,
  interruptible: true,
  async run(values, ids, { signal }) {
    if (ids.length > 0) return forgetByIds(values, ids, signal);
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
      const lockWait = retryLockFrom(values, signal);
      const decisions = await forgetSnapshots(repository, policy, { dryRun, ...(host ? { select: (s) => s.host === host } : {}), ...(lockWait ? { lockWait } : {}) });
      if (values.json) {
        console.log(JSON.stringify(decisions.map((d) => ({ id: d.snapshot.id, time: d.snapshot.time, host: d.snapshot.host, paths: d.snapshot.paths, keep: d.keep, reasons: d.reasons })), null, 2));
      } else printDecisions(decisions);
      const removed = decisions.filter((d) => !d.keep).length;
      if (!values.json) console.log(`${formatCount(decisions.length - removed, 'snapshot')} kept, ${removed} ${dryRun ? 'would be ' : ''}removed`);
      await pruneAfter(repository, values, removed, dryRun, signal);
    } finally {
      await repository.close();
    }
  },
};

/** `forget ID…`: no policy, those snapshots; policy options make no sense beside them. */
async function forgetByIds(values: OptionValues, ids: readonly string[], signal: AbortSignal): Promise<void> {
  const rule = Object.keys(values).find((name) => name.startsWith('keep-') || name === 'host');
  if (rule) throw new UsageError(`Either name snapshots or give --keep-… rules, not both (--${rule}).`);
  const dryRun = values['dry-run'] === true;
  const repository = await openRepository(values);
  try {
    const lockWait = retryLockFrom(values, signal);
    const removed = await removeSnapshots(repository, ids, { dryRun, ...(lockWait ? { lockWait } : {}) });
    if (values.json) console.log(JSON.stringify(removed.map((s) => ({ id: s.id, time: s.time, host: s.host, paths: s.paths, keep: false })), null, 2));
    else for (const s of removed) console.log(`${dryRun ? 'would remove' : 'removed'} snapshot ${s.id.slice(0, 8)} of ${formatLocalTime(s.time)}, ${s.host}: ${s.paths.join(' ')}`);
    await pruneAfter(repository, values, removed.length, dryRun, signal);
  } finally {
    await repository.close();
  }
}

async function pruneAfter(repository: Repository, values: OptionValues, removed: number, dryRun: boolean, signal: AbortSignal): Promise<void> {
  if (values.prune && removed > 0) printPruneResult(await runPrune(repository, values, dryRun, signal));
}

/** The decisions group by group (host and paths), so "kept 3 with --keep-last 1" reads as one per group. */
function printDecisions(decisions: readonly RetentionDecision[]): void {
  let group = '';
  for (const d of decisions) {
    const key = `${d.snapshot.host}\0${[...d.snapshot.paths].sort().join('\0')}`;
    if (key !== group) {
      console.log(`${group === '' ? '' : '\n'}Snapshots of host ${d.snapshot.host}, paths ${[...d.snapshot.paths].sort().join(' ')}:`);
      console.log('Action  ID        Time                 Tags        Reasons');
      group = key;
    }
    const time = formatLocalTime(d.snapshot.time);
    console.log(`${(d.keep ? 'keep' : 'remove').padEnd(6)}  ${d.snapshot.id.slice(0, 8)}  ${time}  ${(d.snapshot.tags.join(',') || '-').padEnd(10)}  ${d.reasons.join(', ')}`);
  }
}
