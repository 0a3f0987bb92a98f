import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { HindsightError } from '../../../src-shared/errors.js';
import { DEFAULT_EXCLUDES } from '../../../src-shared/defaultExcludes.js';
import { formatBytes, formatCount, formatDuration, parseBytes } from '../../../src-shared/units.js';
import { backup, dryRunBackup, type BackupOptions, type DryRunResult } from '../../engine/archiver/backup.js';
import { ExcludeRules, type ExcludeOptions } from '../../engine/archiver/excludes.js';
import type { BackupType } from '../../engine/snapshot/snapshot.js';
import { EXIT_WITH_WARNINGS, UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command, type OptionValues } from '../command.js';
import { backupStream, checkStreamName } from '../../engine/archiver/streamBackup.js';
import { runCommandSource } from '../../engine/source/commandSource.js';
import { parseLocation } from '../../engine/backend/location.js';
import { behindTargets, openRepository, repositoryLocations, targetOptions } from '../openRepository.js';
import { sourcePathsFor } from '../../engine/source/sourceFor.js';
import { isSftpSource } from '../../engine/source/sftpPath.js';
import { progressReporter } from '../progressLine.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'save a snapshot of files and folders',
  help: `Usage: hindsight backup --repo LOCATION [options] PATH...
       hindsight backup --repo LOCATION --stdin-from-command [--stdin-filename NAME] -- COMMAND ARGS...
       COMMAND | hindsight backup --repo LOCATION --stdin [--stdin-filename NAME]

Saves a new snapshot of the given files and folders. Unchanged files are not
read again; only new chunks are stored. Every snapshot is complete in itself.

A PATH may be a folder on another machine, sftp://USER@HOST[:PORT]/PATH, read
over SFTP with the same keys and host-key rules as an SFTP repository.

With --stdin-from-command, runs COMMAND (no shell: its arguments are passed as
given) and stores its standard output as the file NAME (a database dump, a disk
image); a command that exits with a status other than 0 saves no snapshot.
--stdin stores what is piped in instead.

Options:
${REPOSITORY_HELP}
      --type TYPE           incremental (default: compare with the latest snapshot
                            of the same paths on this computer), differential
                            (compare with the latest full one), full (read everything)
      --tag TAG             label the snapshot (repeatable)
      --exclude PATTERN     skip matching paths, gitignore style (repeatable)
      --exclude-file FILE   read patterns from FILE, one per line (repeatable)
      --exclude-caches      skip folders marked with a CACHEDIR.TAG file
      --exclude-larger-than SIZE   skip files larger than SIZE (e.g. 2GiB)
      --one-file-system     do not cross into other mounted file systems
      --no-default-excludes do not apply the default excludes listed below
      --no-xattrs           do not keep extended attributes and ACLs
      --no-scan             do not count files and bytes first: the progress shows no
                            percentage or ETA, and the backup is faster (the count is
                            skipped anyway when no progress is shown: no terminal, no --json)
      --host NAME           record this host name instead of ${hostname()}
      --files-from FILE     back up the paths listed in FILE, one per line (repeatable;
                            empty lines and lines starting with # are skipped)
      --dry-run             read and chunk the files as a backup would and say what
                            it would add (new and changed files, bytes); nothing is
                            written to the repository or the files cache, no lock taken
      --json                print progress and the summary as JSON lines
      --stdin-from-command  back up the standard output of the command after --
      --stdin               back up what is piped into standard input
      --stdin-filename NAME the name it is stored under (default: stdin)

Default excludes (caches, trash, system clutter):
${DEFAULT_EXCLUDES.map((p) => `  ${p}`).join('\n')}

Exit status 3 means the snapshot was saved but some files could not be read,
or (with several --repo) a target could not be written and is now behind.`,
  options: {
    ...REPOSITORY_OPTIONS,
    type: { type: 'string' },
    tag: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    'exclude-file': { type: 'string', multiple: true },
    'exclude-caches': { type: 'boolean' },
    'exclude-larger-than': { type: 'string' },
    'one-file-system': { type: 'boolean' },
    'no-default-excludes': { type: 'boolean' },
    'no-scan': { type: 'boolean' },
    'no-xattrs': { type: 'boolean' },
    host: { type: 'string' },
    'files-from': { type: 'string', multiple: true },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    stdin: { type: 'boolean' },
    'stdin-from-command': { type: 'boolean' },
    'stdin-filename': { type: 'string' },
  },
  takesArguments: true,
  interruptible: true,
  survivesClosedOutput: true,
  async run(values, given, { signal }) {
    if (values.stdin || values['stdin-from-command']) return backupStreamCommand(values, given, signal);
    const paths = [...given, ...(await readFilesFrom((values['files-from'] as string[] | undefined) ?? []))];
    if (paths.length === 0) throw new UsageError('Say what to back up: hindsight backup --repo R PATH... (or --files-from FILE).');
    const type = (values.type as string | undefined) ?? 'incremental';
    if (!['incremental', 'differential', 'full'].includes(type)) throw new UsageError('--type is incremental, differential or full.');
    const largerThan = values['exclude-larger-than'] === undefined ? undefined : parseBytes(values['exclude-larger-than'] as string);
    if (values['exclude-larger-than'] !== undefined && largerThan === undefined) throw new UsageError('--exclude-larger-than takes a size such as 500MiB.');
    const patterns = [...(values['no-default-excludes'] ? [] : DEFAULT_EXCLUDES), ...((values.exclude as string[] | undefined) ?? [])];
    for (const file of (values['exclude-file'] as string[] | undefined) ?? []) {
      try {
        patterns.push(...(await ExcludeRules.readExcludeFile(file)));
      } catch (err) {
        throw new HindsightError('E_EXCLUDE_FILE', `Cannot read the exclude file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    const remote = paths.some(isSftpSource);
    if (!remote) patterns.push(...repositoriesInside(paths, repositoryLocations(values)));
    const json = values.json === true;
    const excludes: ExcludeOptions = { patterns, excludeCaches: values['exclude-caches'] === true, ...(largerThan !== undefined ? { excludeLargerThan: largerThan } : {}) };
    // The other machine first: a refused key or an unknown host key is the first thing said.
    const where = await sourcePathsFor(paths, targetOptions(values), { oneFileSystem: values['one-file-system'] === true });
    const repository = await openRepository(values).catch(async (err: unknown) => {
      await where.close();
      throw err;
    });
    const progress = progressReporter(json);
    const options: BackupOptions = {
      paths: where.paths,
      ...(remote ? { source: where.source } : {}),
      type: type as BackupType,
      tags: (values.tag as string[] | undefined) ?? [],
      excludes,
      oneFileSystem: values['one-file-system'] === true,
      xattrs: values['no-xattrs'] !== true,
      countTotals: progress.visible && values['no-scan'] !== true,
      ...(values.host ? { host: values.host as string } : {}),
      onProgress: (p) => progress.update(p),
      onWarning: (w) => progress.warn('warning', w),
      signal,
    };
    try {
      if (values['dry-run']) {
        const result = await dryRunBackup(repository, options);
        progress.done();
        printDryRun(result, json);
        return result.warnings.length > 0 ? EXIT_WITH_WARNINGS : 0;
      }
      const { snapshot, warnings } = await backup(repository, options);
      progress.done();
      const s = snapshot.summary;
      if (json) {
        process.stdout.write(`${JSON.stringify({ type: 'summary', snapshot: snapshot.id, backupType: snapshot.type, parent: snapshot.parent ?? null, ...s })}\n`);
      } else {
        console.log(`Snapshot ${snapshot.id.slice(0, 8)} saved (${snapshot.type}${snapshot.parent ? `, parent ${snapshot.parent.slice(0, 8)}` : ''})`);
        console.log(`  files: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnchanged} unchanged; ${formatCount(s.dirs, 'folder')}`);
        console.log(`  read ${formatBytes(s.bytesRead)} of ${formatBytes(s.totalBytes)}, added ${formatBytes(s.bytesAdded)} to the repository in ${formatDuration(s.durationMs)}`);
        if (warnings.length > 0) console.log(`  ${formatCount(warnings.length, 'warning')}: some files were not saved as they are now (see above)`);
      }
      const behind = await behindTargets(repository);
      for (const line of behind) console.error(`warning: ${line}`);
      return warnings.length > 0 || behind.length > 0 ? EXIT_WITH_WARNINGS : 0;
    } finally {
      progress.done();
      await repository.close();
      await where.close();
    }
  },
};

/** `--stdin` and `--stdin-from-command`: one stream stored as one file of a new snapshot. */
async function backupStreamCommand(values: OptionValues, given: string[], signal: AbortSignal): Promise<number> {
  if (values.stdin && values['stdin-from-command']) throw new UsageError('--stdin and --stdin-from-command exclude each other: the data comes either from a pipe or from a command.');
  for (const option of ['files-from', 'exclude', 'exclude-file', 'exclude-caches', 'exclude-larger-than', 'one-file-system', 'dry-run', 'type']) {
    if (values[option] !== undefined) throw new UsageError(`--${option} does not apply to a stream (--stdin, --stdin-from-command).`);
  }
  if (values.stdin && given.length > 0) throw new UsageError(`--stdin takes no paths, but was given "${given[0] as string}".`);
  if (values['stdin-from-command'] && given.length === 0) throw new UsageError('Say which command to run after --, as in: hindsight backup --stdin-from-command --stdin-filename db.sql -- pg_dump mydb');
  const filename = (values['stdin-filename'] as string | undefined) ?? 'stdin';
  try {
    checkStreamName(filename);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.stdin && process.stdin.isTTY) throw new UsageError('--stdin reads what is piped in, but standard input is a terminal: pipe the data in, as in: pg_dump mydb | hindsight backup --stdin --stdin-filename db.sql');
  const json = values.json === true;
  const repository = await openRepository(values);
  const progress = progressReporter(json);
  const command = values['stdin-from-command'] ? runCommandSource(given, { signal, passStderr: true }) : undefined;
  try {
    const snapshot = await backupStream(repository, {
      filename,
      input: command ? command.stdout : process.stdin,
      ...(command ? { finished: command.exited } : {}),
      tags: (values.tag as string[] | undefined) ?? [],
      ...(values.host ? { host: values.host as string } : {}),
      onProgress: (p) => progress.update(p),
      signal,
    });
    progress.done();
    const s = snapshot.summary;
    if (json) {
      process.stdout.write(`${JSON.stringify({ type: 'summary', snapshot: snapshot.id, backupType: snapshot.type, parent: snapshot.parent ?? null, ...s })}\n`);
    } else {
      console.log(`Snapshot ${snapshot.id.slice(0, 8)} saved (${filename}${snapshot.parent ? `, parent ${snapshot.parent.slice(0, 8)}` : ''})`);
      console.log(`  read ${formatBytes(s.bytesRead)}, added ${formatBytes(s.bytesAdded)} to the repository in ${formatDuration(s.durationMs)}`);
    }
    const behind = await behindTargets(repository);
    for (const line of behind) console.error(`warning: ${line}`);
    return behind.length > 0 ? EXIT_WITH_WARNINGS : 0;
  } finally {
    command?.kill();
    progress.done();
    await repository.close();
  }
}

/** The paths listed in --files-from files, as restic reads them. */
async function readFilesFrom(files: readonly string[]): Promise<string[]> {
  const paths: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new HindsightError('E_FILES_FROM', `Cannot read the list of paths ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    paths.push(...text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#')));
  }
  return paths;
}

/** What --dry-run found, in the words of the backup's own summary. */
function printDryRun({ parent, summary: s, rawBytesAdded, warnings }: DryRunResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ type: 'dry-run', parent: parent ?? null, ...s, rawBytesAdded })}\n`);
    return;
  }
  console.log(`Dry run${parent ? `, compared with snapshot ${parent.slice(0, 8)}` : ''}: nothing was written`);
  console.log(`  files: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnchanged} unchanged; ${formatCount(s.dirs, 'folder')}`);
  console.log(`  would read ${formatBytes(s.bytesRead)} of ${formatBytes(s.totalBytes)} and add ${formatBytes(s.bytesAdded)} to the repository (${formatBytes(rawBytesAdded)} before compression)`);
  if (warnings.length > 0) console.log(`  ${formatCount(warnings.length, 'warning')}: a backup would not save some files as they are now (see above)`);
}

/**
 * Exclude patterns for local repositories inside a folder being backed up: backing a repository up
 * into itself grows it with every run. Each is left out, with a word, rather than silently.
 */
function repositoriesInside(paths: readonly string[], locations: readonly string[]): string[] {
  const sources = paths.map((path) => resolve(path));
  const patterns: string[] = [];
  for (const location of locations) {
    const parsed = parseLocation(location);
    if (parsed.kind !== 'local') continue;
    const repository = resolve(parsed.path);
    const source = sources.find((folder) => repository.startsWith(`${folder.replace(/\/+$/, '')}/`));
    if (!source) continue;
    console.error(`warning: the repository ${repository} is inside ${source}; it is left out of the backup.`);
    // An absolute pattern of several levels matches the absolute path (see ExcludeRules).
    patterns.push(`${repository}/`);
  }
  return patterns;
}
