import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBytes } from '../../src-shared/units.js';

export const toolNames = ['hindsight', 'restic', 'borg'] as const;

export interface BenchOptions {
  help: boolean;
  /** Dataset names or folder paths, in the order given; each is benchmarked in turn. */
  datasets: string[];
  /** The synthetic set's size in bytes, and as the user wrote it (for the command line in BENCHMARKS.md). */
  size: number;
  sizeText: string;
  repeat: number;
  only: string | undefined;
  keep: boolean;
  datasetsDir: string;
  /** Another built Hindsight checkout, run beside this one as the tool "baseline" (a before/after in one run). */
  baseline: string | undefined;
}

/** A mistake on the command line: printed as one line, exit status 2. */
export class UsageError extends Error {}

export const usage = `Usage: npm run bench -- [options]

Backs up the same data with Hindsight and, when installed, restic and borg, scenario by scenario
(first backup, no-change backup, small change, after mutation, restore, verify all data), and writes
bench/results.json and BENCHMARKS.md.

Options:
  --dataset NAME|PATH   what to back up; repeat it for several datasets in one run (default: synthetic)
                          synthetic  seeded generated data of --size bytes
                          linux      Linux 6.1 source tree (Debian package linux-source-6.1)
                          gcc        GCC 12.2 source tree (Debian package gcc-12-source)
                          PATH       an existing folder, used read-only (copied before each repetition)
  --datasets-dir DIR    where linux and gcc are downloaded (apt-get download) and unpacked once
                          (default: ~/.cache/hindsight-bench)
  --size SIZE           size of the synthetic dataset, e.g. 64M, 1G (default: 1G)
  --repeat N            rounds per dataset, fresh copy and repositories each time; medians reported (default: 1)
  --only TOOL           run only hindsight, restic or borg (BENCHMARKS.md is left alone)
  --keep                keep the work folders (data, repositories, restored copies) and print where
  --baseline DIR        also run another built Hindsight checkout (e.g. a git worktree of an older commit
                          after npm run build) as the tool "baseline", for a before/after in the same run
  --help                print this and exit`;

/** Parses the harness's command line; throws UsageError for anything it cannot take. */
export function parseOptions(argv: string[], home: string): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        dataset: { type: 'string', multiple: true },
        'datasets-dir': { type: 'string' },
        size: { type: 'string', default: '1G' },
        repeat: { type: 'string', default: '1' },
        only: { type: 'string' },
        keep: { type: 'boolean' },
        baseline: { type: 'string' },
      },
    }));
  } catch (error) {
    // Node's message goes on about positionals after "--"; its first sentence is the useful part.
    throw new UsageError(String((error as Error).message).split('. ')[0] ?? 'bad arguments');
  }
  const size = parseBytes(values.size);
  if (size === undefined || size <= 0) throw new UsageError(`--size ${values.size}: expected a size such as 64M or 1G`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError(`--repeat ${values.repeat}: expected a whole number of at least 1`);
  if (values.only !== undefined && !(toolNames as readonly string[]).includes(values.only)) {
    throw new UsageError(`--only ${values.only}: expected one of ${toolNames.join(', ')}`);
  }
  if (values.baseline !== undefined && values.only !== undefined) throw new UsageError('--baseline and --only cannot be used together');
  const datasets = values.dataset ?? ['synthetic'];
  const repeated = datasets.find((name, i) => datasets.indexOf(name) !== i);
  if (repeated !== undefined) throw new UsageError(`--dataset ${repeated} is given twice`);
  return {
    help: values.help ?? false,
    datasets,
    size,
    sizeText: values.size,
    repeat,
    only: values.only,
    keep: values.keep ?? false,
    datasetsDir: values['datasets-dir'] ?? join(home, '.cache', 'hindsight-bench'),
    baseline: values.baseline,
  };
}
