import { formatBytes, formatCount } from '../../../src-shared/units.js';
import { prune, type PruneResult } from '../../engine/maintenance/prune.js';
import type { Repository } from '../../engine/repository/repository.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command, type OptionValues } from '../command.js';
import { openRepository } from '../openRepository.js';
import { progressReporter } from '../progressLine.js';
import { RETRY_LOCK_HELP, retryLockFrom } from '../retryLock.js';

export const PRUNE_OPTIONS = {
  'repack-below': { type: 'string' },
  'retry-lock': { type: 'string' },
} as const;

export const PRUNE_HELP = `      --repack-below N%     rewrite packs with less than N% live data (default 80%)
${RETRY_LOCK_HELP}`;

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'remove data that no snapshot uses any more',
  help: `Usage: hindsight prune --repo LOCATION [--dry-run] [options]

Deletes packs no snapshot uses, rewrites packs that are mostly unused, and
removes leftovers of interrupted backups. It needs the repository to itself
(an exclusive lock): it refuses while a backup runs, unless told to wait.
An interrupted prune never loses data a snapshot uses; run it again.

Options:
${REPOSITORY_HELP}
      --dry-run             only say what would be removed
${PRUNE_HELP}`,
  options: { ...REPOSITORY_OPTIONS, ...PRUNE_OPTIONS, 'dry-run': { type: 'boolean' } },
  interruptible: true,
  async run(values, _positionals, { signal }) {
    const repository = await openRepository(values);
    try {
      printPruneResult(await runPrune(repository, values, values['dry-run'] === true, signal));
    } finally {
      await repository.close();
    }
  },
};

/** Shared with `forget --prune`: parses the prune options, takes the exclusive lock, prunes. */
export async function runPrune(repository: Repository, values: OptionValues, dryRun: boolean, signal: AbortSignal): Promise<PruneResult> {
  const below = values['repack-below'] === undefined ? undefined : /^(\d+(?:\.\d+)?)%$/.exec(values['repack-below'] as string);
  if (values['repack-below'] !== undefined && (!below || Number(below[1]) > 100)) throw new UsageError('--repack-below takes a percentage such as 80%.');
  const lock = await repository.lock(true, retryLockFrom(values, signal));
  const progress = progressReporter(false);
  try {
    return await prune(repository, { dryRun, ...(below ? { repackBelow: Number(below[1]) / 100 } : {}), onProgress: (p) => progress.update(p), signal });
  } finally {
    progress.done();
    await lock.release();
  }
}

export function printPruneResult(result: PruneResult): void {
  const verb = result.dryRun ? 'would' : 'did';
  console.log(`${formatCount(result.blobsUsed, 'chunk')} in use, ${result.blobsUnused} unused`);
  console.log(
    `Prune ${verb} delete ${formatCount(result.packsToDelete, 'unused pack')} and ${formatCount(result.unindexedPacks, 'leftover pack')}, rewrite ${formatCount(result.packsToRepack, 'sparse pack')}, keep ${result.packsToKeep}`,
  );
  if (result.unfinishedWrites > 0) {
    console.log(`Prune ${verb} delete ${formatCount(result.unfinishedWrites, 'unfinished write')} of interrupted backups (${formatBytes(result.unfinishedBytes)})`);
  }
  // Unfinished writes take space too: leaving them out showed "deleted 13 MiB" beside "40 MiB → 40 MiB".
  console.log(`Repository data: ${formatBytes(result.bytesBefore + result.unfinishedBytes)} → ${formatBytes(result.bytesAfter)}${result.dryRun ? ' (estimated)' : ''}`);
}
