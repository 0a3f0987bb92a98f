import { formatBytes } from '../../../src-shared/units.js';
import { repositoryCacheDir } from '../../engine/cacheDir.js';
import { Catalogue } from '../../engine/catalogue/catalogue.js';
import { repositoryStats } from '../../engine/catalogue/stats.js';
import type { Repository } from '../../engine/repository/repository.js';
import { resolveSnapshot } from '../../engine/snapshot/snapshot.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command, type OptionValues } from '../command.js';
import { openRepository } from '../openRepository.js';

/** Opens the repository and its catalogue, brought up to date with the repository's snapshots. */
async function withCatalogue<T>(values: OptionValues, work: (catalogue: Catalogue, repository: Repository) => Promise<T> | T): Promise<T> {
  const repository = await openRepository(values);
  try {
    return await Catalogue.withSynced(repository, (catalogue) => work(catalogue, repository));
  } finally {
    await repository.close();
  }
}

const localTime = (iso: string) => new Date(iso).toLocaleString('sv-SE').slice(0, 19);
const JSON_OPTION = { json: { type: 'boolean' } } as const;

export const versionsCommand: Command = {
  name: 'versions',
  summary: 'list every version of a file across all snapshots',
  help: `Usage: hindsight versions --repo LOCATION PATH [--json]

Lists each distinct version of PATH (its original absolute path): size,
modification time, and the snapshots that hold it. Restore one with
"hindsight restore SNAPSHOT:PATH --target DIR".

Options:
${REPOSITORY_HELP}
      --json                print the versions as JSON`,
  options: { ...REPOSITORY_OPTIONS, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('Say which file: hindsight versions PATH.');
    const versions = await withCatalogue(values, (catalogue) => catalogue.versions(positionals[0] as string));
    if (values.json) return void console.log(JSON.stringify(versions, null, 2));
    if (versions.length === 0) return void console.log(`No snapshot has ${positionals[0]}.`);
    for (const v of versions) {
      const where = v.snapshots.map((s) => `${s.id.slice(0, 8)} (${localTime(s.time)})`);
      console.log(`${v.type.padEnd(7)} ${formatBytes(v.size).padStart(10)}  modified ${localTime(v.mtime)}  in ${where.length} snapshot${where.length === 1 ? '' : 's'}: ${where.join(', ')}`);
    }
  },
};

export const findCommand: Command = {
  name: 'find',
  summary: 'find which snapshots hold matching paths',
  help: `Usage: hindsight find --repo LOCATION PATTERN [--json]

PATTERN is a glob (* ? [..]); without a "/" it matches file names, with one
the whole path ("*/Documents/*.pdf").

Options:
${REPOSITORY_HELP}
      --json                print the matches as JSON`,
  options: { ...REPOSITORY_OPTIONS, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('Say what to find: hindsight find PATTERN.');
    const matches = await withCatalogue(values, (catalogue) => catalogue.find(positionals[0] as string));
    if (values.json) return void console.log(JSON.stringify(matches, null, 2));
    for (const m of matches) console.log(`${m.path}  (${m.snapshots.map((s) => s.id.slice(0, 8)).join(', ')})`);
    console.log(`${matches.length} path${matches.length === 1 ? '' : 's'} found`);
  },
};

export const diffCommand: Command = {
  name: 'diff',
  summary: 'show what changed between two snapshots',
  help: `Usage: hindsight diff --repo LOCATION SNAPSHOT-A SNAPSHOT-B [--json]

Lists paths added (+), removed (-) and modified (M) from A to B, with sizes.

Options:
${REPOSITORY_HELP}
      --json                print the changes as JSON`,
  options: { ...REPOSITORY_OPTIONS, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 2) throw new UsageError('Say which two snapshots: hindsight diff A B.');
    const changes = await withCatalogue(values, async (catalogue, repository) => {
      const [a, b] = [await resolveSnapshot(repository, positionals[0] as string), await resolveSnapshot(repository, positionals[1] as string)];
      return catalogue.diff(a.id, b.id);
    });
    if (values.json) return void console.log(JSON.stringify(changes, null, 2));
    const mark = { added: '+', removed: '-', modified: 'M' } as const;
    for (const c of changes) {
      const sizes = c.change === 'modified' ? `${formatBytes(c.sizeBefore ?? 0)} → ${formatBytes(c.sizeAfter ?? 0)}` : formatBytes((c.change === 'added' ? c.sizeAfter : c.sizeBefore) ?? 0);
      console.log(`${mark[c.change]}  ${c.path}  (${c.attributesOnly ? 'extended attributes or ACL' : sizes})`);
    }
    const count = (kind: keyof typeof mark) => changes.filter((c) => c.change === kind).length;
    console.log(`${count('added')} added, ${count('removed')} removed, ${count('modified')} modified`);
  },
};

export const statsCommand: Command = {
  name: 'stats',
  summary: 'sizes, deduplication and compression of a repository',
  help: `Usage: hindsight stats --repo LOCATION [--json]

Options:
${REPOSITORY_HELP}
      --json                print the figures as JSON`,
  options: { ...REPOSITORY_OPTIONS, ...JSON_OPTION },
  async run(values) {
    const repository = await openRepository(values);
    try {
      const stats = await repositoryStats(repository);
      if (values.json) return void console.log(JSON.stringify(stats, null, 2));
      console.log(`snapshots           ${stats.snapshots}`);
      console.log(`files (newest)      ${stats.files}`);
      console.log(`all snapshots       ${formatBytes(stats.logicalBytes)}`);
      console.log(`after deduplication ${formatBytes(stats.uniqueBytes)}  (${stats.dedupRatio.toFixed(2)}×)`);
      console.log(`stored              ${formatBytes(stats.storedBytes)}  (compression ${stats.compressionRatio.toFixed(2)}×)`);
      for (const s of stats.perSnapshot) console.log(`  ${s.id.slice(0, 8)}  ${localTime(s.time)}  ${formatBytes(s.totalBytes).padStart(10)}, added ${formatBytes(s.bytesAdded)}`);
    } finally {
      await repository.close();
    }
  },
};

export const cacheCommand: Command = {
  name: 'cache',
  summary: 'rebuild the local catalogue from the repository',
  help: `Usage: hindsight cache rebuild --repo LOCATION

The catalogue behind versions, find and diff lives in the cache folder and
can always be rebuilt from the repository.

Options:
${REPOSITORY_HELP}`,
  options: { ...REPOSITORY_OPTIONS },
  async run(values, positionals) {
    if (positionals[0] !== 'rebuild' || positionals.length !== 1) throw new UsageError('Say "hindsight cache rebuild".');
    const repository = await openRepository(values);
    const folder = repositoryCacheDir(repository.config.id);
    Catalogue.reset(folder);
    const catalogue = new Catalogue(folder);
    try {
      const { added } = await catalogue.sync(repository);
      console.log(`Catalogue rebuilt from ${added} snapshot${added === 1 ? '' : 's'}.`);
    } finally {
      catalogue.close();
      await repository.close();
    }
  },
};
