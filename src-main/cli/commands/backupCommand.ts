import { hostname } from 'node:os';
import { DEFAULT_EXCLUDES } from '../../../src-shared/defaultExcludes.js';
import { formatBytes, formatDuration, parseBytes } from '../../../src-shared/units.js';
import { backup } from '../../engine/archiver/backup.js';
import { ExcludeRules } from '../../engine/archiver/excludes.js';
import type { BackupType } from '../../engine/snapshot/snapshot.js';
import { EXIT_WITH_WARNINGS, UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, type Command } from '../command.js';
import { behindTargets, openRepository } from '../openRepository.js';
import { progressReporter } from '../progressLine.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'save a snapshot of files and folders',
  help: `Usage: hindsight backup --repo LOCATION [options] PATH...

Saves a new snapshot of the given files and folders. Unchanged files are not
read again; only new chunks are stored. Every snapshot is complete in itself.

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
      --json                print progress and the summary as JSON lines

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
    json: { type: 'boolean' },
  },
  async run(values, paths) {
    if (paths.length === 0) throw new UsageError('Say what to back up: hindsight backup --repo R PATH...');
    const type = (values.type as string | undefined) ?? 'incremental';
    if (!['incremental', 'differential', 'full'].includes(type)) throw new UsageError('--type is incremental, differential or full.');
    const largerThan = values['exclude-larger-than'] === undefined ? undefined : parseBytes(values['exclude-larger-than'] as string);
    if (values['exclude-larger-than'] !== undefined && largerThan === undefined) throw new UsageError('--exclude-larger-than takes a size such as 500MiB.');
    const patterns = [...(values['no-default-excludes'] ? [] : DEFAULT_EXCLUDES), ...((values.exclude as string[] | undefined) ?? [])];
    for (const file of (values['exclude-file'] as string[] | undefined) ?? []) {
      try {
        patterns.push(...(await ExcludeRules.readExcludeFile(file)));
      } catch (err) {
        throw new UsageError(`Cannot read the exclude file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    const json = values.json === true;
    const repository = await openRepository(values);
    const progress = progressReporter(json);
    try {
      const { snapshot, warnings } = await backup(repository, {
        paths,
        type: type as BackupType,
        tags: (values.tag as string[] | undefined) ?? [],
        excludes: { patterns, excludeCaches: values['exclude-caches'] === true, ...(largerThan !== undefined ? { excludeLargerThan: largerThan } : {}) },
        oneFileSystem: values['one-file-system'] === true,
        xattrs: values['no-xattrs'] !== true,
        countTotals: progress.visible && values['no-scan'] !== true,
        ...(values.host ? { host: values.host as string } : {}),
        onProgress: (p) => progress.update(p),
        onWarning: (w) => progress.warn('warning', w),
      });
      progress.done();
      const s = snapshot.summary;
      if (json) {
        process.stdout.write(`${JSON.stringify({ type: 'summary', snapshot: snapshot.id, backupType: snapshot.type, parent: snapshot.parent ?? null, ...s })}\n`);
      } else {
        console.log(`Snapshot ${snapshot.id.slice(0, 8)} saved (${snapshot.type}${snapshot.parent ? `, parent ${snapshot.parent.slice(0, 8)}` : ''})`);
        console.log(`  files: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnchanged} unchanged; ${s.dirs} folders`);
        console.log(`  read ${formatBytes(s.bytesRead)} of ${formatBytes(s.totalBytes)}, added ${formatBytes(s.bytesAdded)} to the repository in ${formatDuration(s.durationMs)}`);
        if (warnings.length > 0) console.log(`  ${warnings.length} warning${warnings.length === 1 ? '' : 's'}: some files were not saved as they are now (see above)`);
      }
      const behind = await behindTargets(repository);
      for (const line of behind) console.error(`warning: ${line}`);
      return warnings.length > 0 || behind.length > 0 ? EXIT_WITH_WARNINGS : 0;
    } finally {
      progress.done();
      await repository.close();
    }
  },
};
