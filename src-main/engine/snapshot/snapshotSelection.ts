import type { Repository } from '../repository/repository.js';
import { RepositoryError } from '../repository/repositoryError.js';
import { listSnapshots, resolveSnapshot, type Snapshot } from './snapshot.js';
import { findPath } from './treePath.js';

/** restic's snapshot filters: --host, --path and --tag. */
export interface SnapshotFilter {
  /** Any of these hosts. */
  readonly hosts?: readonly string[];
  /** Snapshots whose backed-up paths include every one of these. */
  readonly paths?: readonly string[];
  /** Any of these groups; a group ("a,b") needs all its tags. */
  readonly tags?: readonly string[];
}

export function matchesFilter(snapshot: Snapshot, filter: SnapshotFilter): boolean {
  if (filter.hosts?.length && !filter.hosts.includes(snapshot.host)) return false;
  if (filter.paths?.length && !filter.paths.every((path) => snapshot.paths.includes(path))) return false;
  if (filter.tags?.length && !filter.tags.some((group) => group.split(',').every((tag) => snapshot.tags.includes(tag)))) return false;
  return true;
}

export async function listMatchingSnapshots(repository: Repository, filter: SnapshotFilter = {}): Promise<Snapshot[]> {
  return (await listSnapshots(repository)).filter((snapshot) => matchesFilter(snapshot, filter));
}

/**
 * Finds the snapshot a reference names. "latest" is the newest snapshot that passes `filter` and
 * holds `path`: when another plan backed up something else last, "latest:/home/ann/report.txt" still
 * finds Ann's report. An id (or its first characters) names one snapshot whatever the filter.
 */
export async function selectSnapshot(repository: Repository, reference: string, options: { readonly path?: string; readonly filter?: SnapshotFilter } = {}): Promise<Snapshot> {
  if (reference !== 'latest') return resolveSnapshot(repository, reference);
  const path = options.path ?? '/';
  const candidates = await listMatchingSnapshots(repository, options.filter);
  if (candidates.length === 0) {
    const all = await listSnapshots(repository);
    throw new RepositoryError('E_SNAPSHOT_NOT_FOUND', all.length === 0 ? 'The repository has no snapshots yet.' : 'No snapshot matches the --host, --path and --tag given.');
  }
  for (const snapshot of candidates.reverse()) {
    // Only a snapshot of a source on the way to the path, or below it, can hold it: no tree to load for the others.
    if (path !== '/' && !snapshot.paths.some((source) => within(path, source) || within(source, path))) continue;
    try {
      await findPath(repository, snapshot, path);
      return snapshot;
    } catch (err) {
      if (!(err instanceof RepositoryError) || err.code !== 'E_PATH_NOT_FOUND') throw err;
    }
  }
  throw new RepositoryError('E_SNAPSHOT_NOT_FOUND', `The repository has no snapshot that holds ${path}.`);
}

/** Whether `path` is `folder` or lies below it (both absolute, "/"-separated). */
function within(path: string, folder: string): boolean {
  const base = folder.replace(/\/+$/, '');
  return path === base || path.startsWith(`${base}/`);
}
