import { checkRepository, type ReadDataSubset } from '../../engine/maintenance/check.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { withReadLock } from '../openRepository.js';
import { progressReporter } from '../progressLine.js';

/** Exit status when check finds damage (same as any other E_DAMAGED). */
const EXIT_DAMAGED = 13;

export const checkCommand: Command = {
  name: 'check',
  summary: 'verify the repository (structure, or every byte with --read-data)',
  help: `Usage: hindsight check --repo LOCATION [--read-data [--subset N%|K/M]] [--json]

Verifies that every snapshot and folder listing loads, that every chunk a
snapshot uses is indexed, and that every pack exists with the right size.
With --read-data it also decrypts every chunk and checks its hash. Damage is
listed with the files and snapshots it affects. Nothing is changed.

Options:
${REPOSITORY_HELP}
      --read-data           read and verify all data
      --subset N%|K/M       with --read-data: only N percent of the packs, or
                            part K of M (the same packs every time)
      --json                print the result as JSON

Exit status 13 means damage was found.`,
  options: { ...REPOSITORY_OPTIONS, 'read-data': { type: 'boolean' }, subset: { type: 'string' }, json: { type: 'boolean' } },
  async run(values) {
    const subset = values.subset === undefined ? undefined : parseSubset(values.subset as string);
    if (subset && !values['read-data']) throw new UsageError('--subset goes with --read-data.');
    const readData: ReadDataSubset | undefined = values['read-data'] ? (subset ?? { kind: 'all' }) : undefined;
    const json = values.json === true;
    const progress = progressReporter(false);
    try {
      return await withReadLock(values, async (repository) => {
        const result = await checkRepository(repository, { ...(readData ? { readData } : {}), onProgress: (p) => progress.update(p) });
        progress.done();
        if (json) {
          console.log(JSON.stringify(result, null, 2));
        } else {
          for (const error of result.errors) console.log(`error: ${error.message}`);
          const read = readData ? `, read ${result.blobsRead} chunks in ${result.packsRead} packs` : '';
          console.log(`${result.snapshots} snapshots, ${result.trees} folders, ${result.packs} packs checked${read}: ${result.errors.length === 0 ? 'no errors found' : `${result.errors.length} error${result.errors.length === 1 ? '' : 's'}`}`);
          if (result.unreferencedPacks.length > 0) {
            console.log(`${result.unreferencedPacks.length} pack${result.unreferencedPacks.length === 1 ? ' is' : 's are'} not in any index (left by interrupted backups); "hindsight prune" removes them`);
          }
          if (result.unusedBlobs > 0) console.log(`${result.unusedBlobs} chunks are no longer used by any snapshot; "hindsight prune" reclaims the space`);
        }
        return result.errors.length > 0 ? EXIT_DAMAGED : 0;
      });
    } finally {
      progress.done();
    }
  },
};

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
