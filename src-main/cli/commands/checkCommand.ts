import { formatCount } from '../../../src-shared/units.js';
import { backendFor } from '../../engine/backend/location.js';
import { checkRepository, type CheckResult, type ReadDataSubset } from '../../engine/maintenance/check.js';
import { OperationInterrupted } from '../../engine/interruption.js';
import { compareTargets } from '../../engine/maintenance/repair.js';
import { Repository } from '../../engine/repository/repository.js';
import { EXIT_DAMAGED, UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command, type OptionValues } from '../command.js';
import { repositoryLocations, targetOptions, withReadLock } from '../openRepository.js';
import { readPassword } from '../password.js';
import { progressReporter } from '../progressLine.js';

export const checkCommand: Command = {
  name: 'check',
  summary: 'verify the repository (structure, or every byte with --read-data)',
  help: `Usage: hindsight check --repo LOCATION [--read-data [--subset N%|K/M]] [--json]

Verifies that every snapshot and folder listing loads, that every chunk a
snapshot uses is indexed, and that every pack exists with the right size.
With --read-data it also decrypts every chunk and checks its hash. Damage is
listed with the files and snapshots it affects. Nothing is changed.
With several --repo, every target is checked on its own (and compared with
the others), and each problem is reported with the target that has it.

Options:
${REPOSITORY_HELP}
      --read-data           read and verify all data
      --subset N%|K/M       with --read-data: only N percent of the packs, or
                            part K of M (the same packs every time)
      --json                print the result as JSON

Exit status 13 means damage was found.`,
  options: { ...REPOSITORY_OPTIONS, 'read-data': { type: 'boolean' }, subset: { type: 'string' }, json: { type: 'boolean' } },
  interruptible: true,
  async run(values, _positionals, { signal }) {
    const subset = values.subset === undefined ? undefined : parseSubset(values.subset as string);
    if (subset && !values['read-data']) throw new UsageError('--subset goes with --read-data.');
    const readData: ReadDataSubset | undefined = values['read-data'] ? (subset ?? { kind: 'all' }) : undefined;
    const json = values.json === true;
    if (repositoryLocations(values).length > 1) return checkEachTarget(values, readData, json, signal);
    const progress = progressReporter(false);
    try {
      return await withReadLock(values, async (repository) => {
        const result = await checkRepository(repository, { ...(readData ? { readData } : {}), onProgress: (p) => progress.update(p), signal });
        progress.done();
        if (json) console.log(JSON.stringify(result, null, 2));
        else printResult(result, readData !== undefined, '');
        return result.errors.length > 0 ? EXIT_DAMAGED : 0;
      });
    } finally {
      progress.done();
    }
  },
};

/**
 * The advice must be true: prune is advised only for what it removes, and never for one target of a
 * replicated repository on its own. On a target that lacks what the others hold, chunks look unused
 * because their snapshot is missing there: pruning it alone would delete that snapshot's data.
 */
function printResult(result: CheckResult, readData: boolean, prefix: string, target?: { behind: boolean }): void {
  for (const error of result.errors) console.log(`${prefix}error: ${error.message}`);
  const read = readData ? `, read ${formatCount(result.blobsRead, 'chunk')} in ${formatCount(result.packsRead, 'pack')}` : '';
  const checked = `${formatCount(result.snapshots, 'snapshot')}, ${formatCount(result.trees, 'folder')}, ${formatCount(result.packs, 'pack')} checked`;
  console.log(`${prefix}${checked}${read}: ${result.errors.length === 0 ? 'no errors found' : formatCount(result.errors.length, 'error')}`);
  if (target?.behind) {
    if (result.unusedBlobs > 0 || result.unreferencedPacks.length > 0) {
      console.log(`${prefix}this target is behind the others, so some of its data looks unused: "hindsight repair" with every --repo brings it up to date (do not prune this target alone)`);
    }
    return;
  }
  const prune = target ? '"hindsight prune" with every --repo' : '"hindsight prune"';
  if (result.unreferencedPacks.length > 0) {
    console.log(`${prefix}${result.unreferencedPacks.length} pack${result.unreferencedPacks.length === 1 ? ' is' : 's are'} not in any index (left by interrupted backups); ${prune} removes them`);
  }
  if (result.reclaimableBlobs > 0) {
    console.log(`${prefix}${result.reclaimableBlobs} chunk${result.reclaimableBlobs === 1 ? ' is' : 's are'} no longer used by any snapshot; ${prune} reclaims the space`);
  }
}

/**
 * A replicated repository is sound only if every target is: each one is
 * compared with the others (objects it lacks) and checked alone, so the
 * report names the target that is damaged rather than hiding it behind the
 * copies on the others.
 */
async function checkEachTarget(values: OptionValues, readData: ReadDataSubset | undefined, json: boolean, signal: AbortSignal): Promise<number> {
  const options = targetOptions(values);
  const targets = repositoryLocations(values).map((location) => backendFor(location, options));
  const password = await readPassword({ file: values['password-file'] as string | undefined, env: 'HINDSIGHT_PASSWORD', prompt: 'Repository password' });
  const comparison = await compareTargets(targets);
  const report: { location: string; problems: string[]; behind: boolean; result?: CheckResult }[] = [];
  for (const [i, target] of targets.entries()) {
    const compared = comparison[i] as (typeof comparison)[number];
    const entry: (typeof report)[number] = { location: target.location, problems: [], behind: compared.reachable && compared.missing > 0 };
    report.push(entry);
    if (!compared.reachable) {
      entry.problems.push(`not reachable: ${compared.error}`);
      continue;
    }
    if (compared.missing > 0) {
      const detail = Object.entries(compared.missingByType).map(([type, n]) => `${n} ${type}`).join(', ');
      entry.problems.push(`lacks ${compared.missing} object${compared.missing === 1 ? '' : 's'} other targets have (${detail})`);
    }
    try {
      const repository = await Repository.open(target, password);
      try {
        entry.result = await repository.withLock(false, () => checkRepository(repository, { ...(readData ? { readData } : {}), signal }));
      } finally {
        await repository.close();
      }
    } catch (err) {
      if (err instanceof OperationInterrupted) {
        // An open SFTP or HTTP connection would keep the process from exiting.
        await Promise.all(targets.map((t) => t.close().catch(() => undefined)));
        throw err;
      }
      entry.problems.push((err as Error).message);
    }
  }
  await Promise.all(targets.map((t) => t.close()));
  let damaged = 0;
  for (const entry of report) {
    const errors = entry.problems.length + (entry.result?.errors.length ?? 0);
    if (errors > 0) damaged += 1;
    if (json) continue;
    console.log(`target ${entry.location}: ${errors === 0 ? 'no errors found' : `DAMAGED (${errors} error${errors === 1 ? '' : 's'})`}`);
    for (const problem of entry.problems) console.log(`  error: ${problem}`);
    if (entry.result) printResult(entry.result, readData !== undefined, '  ', { behind: entry.behind });
  }
  if (json) console.log(JSON.stringify(report, null, 2));
  else if (damaged > 0) console.log(`${damaged} of ${formatCount(targets.length, 'target')} damaged or incomplete; "hindsight repair" with every --repo fixes what another target holds a good copy of.`);
  return damaged > 0 ? EXIT_DAMAGED : 0;
}

function parseSubset(text: string): ReadDataSubset {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const value = Number(percent[1]);
    if (value > 0 && value <= 100) return { kind: 'percent', percent: value };
  }
  const slice = /^(\d+)\/(\d+)$/.exec(text);
  if (slice) {
    const [k, m] = [Number(slice[1]), Number(slice[2])];
    if (m >= 1 && k >= 1 && k <= m) return { kind: 'slice', slice: k, of: m };
  }
  throw new UsageError('--subset takes a percentage (10%) or a part K/M (1/5).');
}
