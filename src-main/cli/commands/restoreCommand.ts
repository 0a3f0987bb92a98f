import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes, formatCount } from '../../../src-shared/units.js';
import { sourcePathsFor } from '../../engine/source/sourceFor.js';
import type { SftpSource } from '../../engine/source/sftpSource.js';
import { isSftpSource } from '../../engine/source/sftpPath.js';
import { restore, type OverwritePolicy } from '../../engine/restorer/restore.js';
import { selectSnapshot } from '../../engine/snapshot/snapshotSelection.js';
import { splitReference } from '../../engine/snapshot/treePath.js';
import { EXIT_WITH_WARNINGS, UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, SNAPSHOT_FILTER_HELP, SNAPSHOT_FILTER_OPTIONS, snapshotFilter, type Command, type OptionValues } from '../command.js';
import { targetOptions, withReadLock } from '../openRepository.js';
import { progressReporter } from '../progressLine.js';

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a snapshot, a folder or a file into a folder',
  help: `Usage: hindsight restore --repo LOCATION SNAPSHOT[:PATH] --target DIR [options]

Restores a whole snapshot, or the folder or file at PATH in it, into DIR:
contents, permissions, modification times, symbolic links, hard links and
empty folders. Every chunk is verified as it is read; a damaged chunk fails
only its file. Nothing is ever written outside DIR. SNAPSHOT "latest" is the
newest snapshot that holds PATH (and matches --host, --path and --tag).

Options:
${REPOSITORY_HELP}
${SNAPSHOT_FILTER_HELP}
  -t, --target DIR          where to restore (created if missing)
      --include PATTERN     restore only matching paths (repeatable, gitignore style)
      --exclude PATTERN     skip matching paths (repeatable)
      --overwrite WHEN      existing files: if-changed (default: replace unless size
                            and mtime match), always, never
      --json                print progress and the summary as JSON lines

DIR may be a folder on another machine, sftp://USER@HOST[:PORT]/PATH: the
snapshot is restored into a temporary folder here (TMPDIR), checked as any
restore, then copied there over SFTP (files under a temporary name, renamed
into place; links inside DIR never followed). Owners stay the SSH user's.

Exit status 3 means some entries were not restored as saved (each is listed
with what is missing: the whole entry, or attributes that could not be set).`,
  options: {
    ...REPOSITORY_OPTIONS,
    ...SNAPSHOT_FILTER_OPTIONS,
    target: { type: 'string', short: 't' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    overwrite: { type: 'string' },
    json: { type: 'boolean' },
  },
  takesArguments: true,
  interruptible: true,
  async run(values, positionals, { signal }) {
    if (positionals.length !== 1) throw new UsageError('Say which snapshot: hindsight restore SNAPSHOT[:PATH] --target DIR.');
    const target = values.target as string | undefined;
    if (!target) throw new UsageError('Say where to restore to: --target DIR.');
    const overwrite = (values.overwrite as string | undefined) ?? 'if-changed';
    if (!['always', 'if-changed', 'never'].includes(overwrite)) throw new UsageError('--overwrite is always, if-changed or never.');
    const { snapshot: reference, path } = splitReference(positionals[0] as string);
    const json = values.json === true;
    const progress = progressReporter(json);
    if (isSftpSource(target)) return restoreToRemote(values, reference, path, target, overwrite as OverwritePolicy, signal);
    try {
      return await withReadLock(values, async (repository) => {
        const snapshot = await selectSnapshot(repository, reference, { path, filter: snapshotFilter(values) });
        const result = await restore(repository, {
          snapshot,
          path,
          target,
          include: (values.include as string[] | undefined) ?? [],
          exclude: (values.exclude as string[] | undefined) ?? [],
          overwrite: overwrite as OverwritePolicy,
          onProgress: (p) => progress.update(p),
          onProblem: (problem) => progress.warn('error', problem),
          signal,
        });
        progress.done();
        if (json) {
          process.stdout.write(`${JSON.stringify({ type: 'summary', snapshot: snapshot.id, ...result, problems: result.problems.length })}\n`);
        } else {
          console.log(`Restored snapshot ${snapshot.id.slice(0, 8)}${path === '/' ? '' : `:${path}`} to ${target}`);
          console.log(
            `  ${formatCount(result.filesRestored, 'file')} (${formatBytes(result.bytesWritten)}), ${formatCount(result.dirs, 'folder')}, ${formatCount(result.symlinks, 'symbolic link')}, ${formatCount(result.hardLinks, 'hard link')}, ${formatCount(result.specials, 'FIFO or device file', 'FIFOs and device files')}; ${formatCount(result.filesSkipped, 'existing file')} left as ${result.filesSkipped === 1 ? 'it was' : 'they were'}`,
          );
          if (result.problems.length > 0) console.log(`  ${result.problems.length} entr${result.problems.length === 1 ? 'y was' : 'ies were'} not restored as saved (see above)`);
        }
        return result.problems.length > 0 ? EXIT_WITH_WARNINGS : 0;
      });
    } finally {
      progress.done();
    }
  },
};

/**
 * Restores into a temporary folder on this computer (with every check of a local restore), then copies
 * that folder to the remote one (see uploadTree). The machine is reached first, so a refused key or an
 * unknown host is said before anything is read.
 */
async function restoreToRemote(values: OptionValues, reference: string, path: string, target: string, overwrite: OverwritePolicy, signal: AbortSignal): Promise<number> {
  const where = await sourcePathsFor([target], targetOptions(values));
  const staging = await mkdtemp(join(tmpdir(), 'hindsight-restore-'));
  const progress = progressReporter(values.json === true);
  try {
    const remotePath = where.paths[0] as string;
    return await withReadLock(values, async (repository) => {
      const snapshot = await selectSnapshot(repository, reference, { path, filter: snapshotFilter(values) });
      const restored = await restore(repository, {
        snapshot,
        path,
        target: staging,
        include: (values.include as string[] | undefined) ?? [],
        exclude: (values.exclude as string[] | undefined) ?? [],
        overwrite: 'always',
        onProgress: (p) => progress.update(p),
        onProblem: (problem) => progress.warn('error', problem),
        signal,
      });
      progress.done();
      const { uploadTree } = await import('../../engine/source/sftpUpload.js');
      const uploaded = await uploadTree(where.source as SftpSource, staging, remotePath, { overwrite, signal, onProblem: (problem) => progress.warn('error', problem) });
      const problems = restored.problems.length + uploaded.problems.length;
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ type: 'summary', snapshot: snapshot.id, filesRestored: uploaded.files, bytesWritten: uploaded.bytes, dirs: uploaded.dirs, symlinks: uploaded.symlinks, filesSkipped: uploaded.skipped, problems })}\n`);
      } else {
        console.log(`Restored snapshot ${snapshot.id.slice(0, 8)}${path === '/' ? '' : `:${path}`} to ${target}`);
        console.log(
          `  ${formatCount(uploaded.files, 'file')} (${formatBytes(uploaded.bytes)}), ${formatCount(uploaded.dirs, 'folder')}, ${formatCount(uploaded.symlinks, 'symbolic link')}; ${formatCount(uploaded.skipped, 'existing file')} left as ${uploaded.skipped === 1 ? 'it was' : 'they were'}`,
        );
        if (problems > 0) console.log(`  ${problems} entr${problems === 1 ? 'y was' : 'ies were'} not restored as saved (see above)`);
      }
      return problems > 0 ? EXIT_WITH_WARNINGS : 0;
    });
  } finally {
    progress.done();
    await rm(staging, { recursive: true, force: true });
    await where.close();
  }
}
