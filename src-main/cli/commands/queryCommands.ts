import { resolve } from 'node:path';
import { formatBytes, formatLocalTime, parseDuration } from '../../../src-shared/units.js';
import { DEFAULT_MAX_UNUSED_MS, removeOldCaches } from '../../engine/cacheCleanup.js';
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

const localTime = (iso: string) => formatLocalTime(iso);
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
  takesArguments: true,
  async run(values, positionals) {
    if (positionals.length !== 1) throw new UsageError('Say which file: hindsight versions PATH.');
    // Snapshots hold absolute paths; "report.txt" means the one in the current folder, as for any command.
    const path = resolve(positionals[0] as string);
    const versions = await withCatalogue(values, (catalogue) => catalogue.versions(path));
    if (values.json) return void console.log(JSON.stringify(versions, null, 2));
    if (versions.length === 0) return void console.log(`No snapshot has ${path}.`);
    for (const v of versions) {
      const where = v.snapshots.map((s) => `${s.id.slice(0, 8)} (${localTime(s.time)})`);
      const attributes = v.attributesOnly ? '  attributes changed' : '';
      console.log(`${v.type.padEnd(7)} ${formatBytes(v.size).padStart(10)}  modified ${localTime(v.mtime)}${attributes}  in ${where.length} snapshot${where.length === 1 ? '' : 's'}: ${where.join(', ')}`);
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
  takesArguments: true,
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
  takesArguments: true,
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
      console.log(`${mark[c.change]}  ${c.path}  (${c.attributesOnly ? 'attributes changed: mode, owner, extended attributes, ACL or file flags' : sizes})`);
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
  summary: 'rebuild the local catalogue, or remove the caches of repositories that are gone',
  help: `Usage: hindsight cache rebuild --repo LOCATION
       hindsight cache --cleanup [--max-unused DURATION] [--dry-run]

The catalogue behind versions, find and diff lives in the cache folder and
can always be rebuilt from the repository. With --cleanup, the cache folders
of repositories no command has used for 30 days (gone, or no longer backed
up) are removed, as restic does; they are rebuilt if ever needed again.

Options:
${REPOSITORY_HELP}
      --cleanup             remove the caches of repositories unused for a while
      --max-unused DURATION with --cleanup: how long unused (default 30d)
      --dry-run             with --cleanup: only list them`,
  options: { ...REPOSITORY_OPTIONS, cleanup: { type: 'boolean' }, 'max-unused': { type: 'string' }, 'dry-run': { type: 'boolean' } },
  takesArguments: true,
  async run(values, positionals) {
    if (values.cleanup) return cleanUpCaches(values, positionals);
    if (positionals[0] !== 'rebuild' || positionals.length !== 1) throw new UsageError('Say "hindsight cache rebuild" or "hindsight cache --cleanup".');
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

async function cleanUpCaches(values: OptionValues, positionals: readonly string[]): Promise<void> {
  if (positionals.length > 0) throw new UsageError('"cache --cleanup" takes no arguments.');
  const maxUnused = values['max-unused'] === undefined ? DEFAULT_MAX_UNUSED_MS : parseDuration(values['max-unused'] as string);
  if (maxUnused === undefined) throw new UsageError('--max-unused takes a duration such as 30d.');
  const dryRun = values['dry-run'] === true;
  const removed = await removeOldCaches(maxUnused, { dryRun });
  for (const cache of removed) console.log(`${dryRun ? 'would remove' : 'removed'} the cache of repository ${cache.repositoryId.slice(0, 8)}, last used ${formatLocalTime(cache.lastUsed)}`);
  console.log(`${removed.length} cache${removed.length === 1 ? '' : 's'} ${dryRun ? 'would be ' : ''}removed`);
}
