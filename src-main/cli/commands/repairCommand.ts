import { formatCount, formatLocalTime } from '../../../src-shared/units.js';
import type { Backend } from '../../engine/backend/backend.js';
import { backendFor } from '../../engine/backend/location.js';
import { ReplicatedBackend } from '../../engine/backend/replicatedBackend.js';
import { readTargetHistory, recordTargets } from '../../engine/backend/targetHistory.js';
import { compareTargets, repairTargets, seedTargets, type RepairResult } from '../../engine/maintenance/repair.js';
import { Repository } from '../../engine/repository/repository.js';
import { EXIT_DAMAGED, EXIT_WITH_WARNINGS, UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, TARGET_HELP, TARGET_OPTIONS, type Command } from '../command.js';
import { openOrClose, openRepository, repositoryLocations, targetOptions } from '../openRepository.js';
import { readPassword } from '../password.js';

function targetsOf(backend: Backend): readonly Backend[] {
  return backend instanceof ReplicatedBackend ? backend.targets : [backend];
}

function printRepair(result: RepairResult): number {
  for (const target of result.targets) {
    if (!target.reachable) console.log(`${target.location}: not reachable, not repaired (${target.error ?? 'unknown error'})`);
    else console.log(`${target.location}: ${target.copied} missing object${target.copied === 1 ? '' : 's'} copied, ${target.replaced} damaged object${target.replaced === 1 ? '' : 's'} replaced`);
  }
  console.log(`${formatCount(result.objectsChecked, 'object')} verified on every target.`);
  if (result.lost.length > 0) {
    console.log(`${result.lost.length} object${result.lost.length === 1 ? ' has' : 's have'} no good copy on any target: ${result.lost.slice(0, 10).join(', ')}${result.lost.length > 10 ? ' …' : ''}. Run "hindsight check" to see which files are affected.`);
    return EXIT_DAMAGED;
  }
  return result.targets.some((t) => !t.reachable) ? EXIT_WITH_WARNINGS : 0;
}

export const repairCommand: Command = {
  name: 'repair',
  summary: 'bring every target of a replicated repository level again',
  help: `Usage: hindsight repair --repo A --repo B [--repo C...]

Reads every object on every target, verifies it (authentication, hashes),
and copies what a target lacks or holds damaged from a target with a good
copy, so every target again holds the same complete repository. Takes the
repository to itself (an exclusive lock) while it works.

Options:
${REPOSITORY_HELP}

Exit status 3: a target could not be reached (repair it later); 13: some
objects have no good copy anywhere.`,
  options: { ...REPOSITORY_OPTIONS },
  async run(values) {
    if (repositoryLocations(values).length < 2) throw new UsageError('repair works on a repository kept on several targets: give --repo once for each.');
    const repository = await openRepository(values);
    try {
      const lock = await repository.lock(true);
      try {
        const result = await repairTargets(repository, targetsOf(repository.backend));
        await recordTargets(
          result.targets.map((t) => ({ location: t.location, reachable: t.reachable, behind: !t.reachable, lastSuccess: t.reachable ? new Date() : undefined, lastError: t.error })),
          { repaired: true },
        );
        return printRepair(result);
      } finally {
        await lock.release();
      }
    } finally {
      await repository.close();
    }
  },
};

export const copyCommand: Command = {
  name: 'copy',
  summary: 'seed a new target with a complete copy of a repository',
  help: `Usage: hindsight copy --from LOCATION --to LOCATION

Copies every object of the repository at --from (verified on the way) to
--to, creating the repository there when there is none. Afterwards both
are the same repository: use them together as --repo A --repo B. Running it
again copies only what is missing or damaged at --to.

Options:
      --from LOCATION       the repository to copy (repeatable: a replicated one)
      --to LOCATION         the new target (repeatable)
      --password-file FILE  the repository's password; default $HINDSIGHT_PASSWORD, else ask
${TARGET_HELP}`,
  options: { from: { type: 'string', multiple: true }, to: { type: 'string', multiple: true }, 'password-file': { type: 'string' }, ...TARGET_OPTIONS },
  async run(values) {
    const options = targetOptions(values);
    const fromLocations = repositoryLocations(values, 'from');
    const sources = fromLocations.map((location) => backendFor(location, options));
    const destinations = repositoryLocations(values, 'to').map((location) => backendFor(location, options));
    const password = await readPassword({ file: values['password-file'] as string | undefined, env: 'HINDSIGHT_PASSWORD', prompt: 'Repository password' });
    const source = sources.length === 1 ? (sources[0] as Backend) : new ReplicatedBackend(sources, options.onReplicationEvent);
    const repository = await openOrClose(source, () => Repository.open(source, password)).catch(async (err: unknown) => {
      await Promise.all(destinations.map((d) => d.close()));
      throw err;
    });
    try {
      return printRepair(await seedTargets(repository, sources, destinations));
    } finally {
      await repository.close();
      await Promise.all(destinations.map((d) => d.close()));
    }
  },
};

export const targetsCommand: Command = {
  name: 'targets',
  summary: 'show each target of a replicated repository: reachable, objects behind',
  help: `Usage: hindsight targets --repo A --repo B [--json]

Lists every target, whether it can be reached, how many objects it lacks
that another target has (listings only; "repair" verifies contents), and
when a backup or repair on this computer last reached it.

Options:
${REPOSITORY_HELP}
      --json                print the result as JSON`,
  options: { ...REPOSITORY_OPTIONS, json: { type: 'boolean' } },
  async run(values) {
    const options = targetOptions(values);
    const targets = repositoryLocations(values).map((location) => backendFor(location, options));
    try {
      const comparison = await compareTargets(targets);
      const history = await readTargetHistory();
      if (values.json) {
        console.log(JSON.stringify(comparison.map((target) => ({ ...target, history: history[target.location] ?? null })), null, 2));
      } else {
        for (const target of comparison) {
          const seen = history[target.location]?.lastSuccess;
          const last = seen ? `; last success ${formatLocalTime(seen)}` : '';
          if (!target.reachable) console.log(`${target.location}: not reachable (${target.error})${last}`);
          else if (target.missing === 0) console.log(`${target.location}: up to date (${formatCount(target.objects, 'object')})${last}`);
          else console.log(`${target.location}: behind by ${formatCount(target.missing, 'object')} (${Object.entries(target.missingByType).map(([type, n]) => `${n} ${type}`).join(', ')})${last}`);
        }
      }
      return comparison.every((t) => t.reachable && t.missing === 0) ? 0 : EXIT_WITH_WARNINGS;
    } finally {
      await Promise.all(targets.map((t) => t.close()));
    }
  },
};
