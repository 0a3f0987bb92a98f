import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OBJECT_TYPES, sweepTemporaryFiles, type Backend } from '../engine/backend/backend.js';
import { LocalBackend } from '../engine/backend/localBackend.js';
import { MAX_REPOSITORY_DEPTH, isRepositorySegment } from './objectRoute.js';

/**
 * Where the server keeps repositories: each one is an ordinary repository on a `Backend` (a folder under
 * --data, or a prefix on the --storage backend), so it also opens directly with `--repo LOCATION` on
 * the server (or with restic). The storage owns the backends it hands out and closes them in `close`.
 */
export interface RepositoryStorage {
  /** Says where repositories live, for the start-up line. */
  readonly description: string;
  /** The backend of the repository at `repository` (folder names already checked by `parseObjectRoute`). */
  backendFor(repository: readonly string[]): Backend;
  /** The location that opens the repository with --repo (for `server prune`). */
  locationOf(repository: readonly string[]): string;
  /** Whether `repositories` can find them (a REST server cannot list what it holds). */
  readonly listable: boolean;
  /** The repositories (paths that hold a config or a data folder) at or below `prefix`; [] is every one. */
  repositories(prefix: readonly string[]): AsyncIterable<readonly string[]>;
  close(): Promise<void>;
}

/**
 * Whether a folder's entries are a repository's: a config, or a type folder (which create makes first on
 * a disk, and the first key makes on S3); no repository folder can have a type folder's name.
 */
export function looksLikeRepository(files: readonly string[], folders: readonly string[]): boolean {
  return files.includes('config') || folders.some((folder) => (OBJECT_TYPES as readonly string[]).includes(folder));
}

/** Repositories as folders under one directory: DIR/alice/laptop/{config,keys,data,…}. */
export function folderStorage(root: string): RepositoryStorage {
  async function* walk(path: readonly string[]): AsyncIterable<readonly string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(root, ...path), { withFileTypes: true });
    } catch {
      return;
    }
    const folders = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    if (looksLikeRepository(entries.filter((entry) => entry.isFile()).map((entry) => entry.name), folders)) {
      yield path;
      return;
    }
    if (path.length >= MAX_REPOSITORY_DEPTH) return;
    // Hidden folders are the server's own (.hindsight-server), never a repository's.
    for (const folder of folders) if (isRepositorySegment(folder)) yield* walk([...path, folder]);
  }
  return {
    description: root,
    backendFor: (repository) => new LocalBackend(join(root, ...repository)),
    locationOf: (repository) => join(root, ...repository),
    repositories: (prefix) => walk(prefix),
    listable: true,
    close: async () => undefined,
  };
}

/**
 * Removes the temporary files of uploads a crash or a kill cut off (never visible to clients, they only
 * take space). Run at start, before listening: no upload of this server is in flight then.
 */
export async function sweepUnfinishedUploads(storage: RepositoryStorage): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  // A REST server keeps its own temporary files (and cannot be asked for its repositories).
  if (!storage.listable) return { files, bytes };
  for await (const repository of storage.repositories([])) {
    const swept = await sweepTemporaryFiles(storage.backendFor(repository), false);
    files += swept.files;
    bytes += swept.bytes;
  }
  return { files, bytes };
}
