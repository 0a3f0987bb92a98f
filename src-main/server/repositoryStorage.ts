import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sweepTemporaryFiles, type Backend } from '../engine/backend/backend.js';
import { LocalBackend } from '../engine/backend/localBackend.js';
import { isRepositorySegment } from './objectRoute.js';

/** Repository folders nest no deeper than a request path can name (see objectRoute's MAX_DEPTH). */
const MAX_DEPTH = 8;

/**
 * Where the server keeps repositories: each one is an ordinary repository on a `Backend`, so the same
 * folder opens with `hindsight --repo DIR/alice/laptop` (or restic) on the server itself, and another
 * backend can hold them instead of a local folder.
 */
export interface RepositoryStorage {
  /** Says where repositories live, for the start-up line. */
  readonly description: string;
  /** The backend of the repository at `repository` (folder names already checked by `parseObjectRoute`). */
  backendFor(repository: readonly string[]): Backend;
  /** The repositories (paths that hold a config or a data folder) at or below `prefix`; [] is every one. */
  repositories(prefix: readonly string[]): AsyncIterable<readonly string[]>;
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
    // A config, or the type folders that create makes first ("data" is never a repository folder's name).
    if (entries.some((entry) => (entry.name === 'config' && entry.isFile()) || (entry.name === 'data' && entry.isDirectory()))) {
      yield path;
      return;
    }
    if (path.length >= MAX_DEPTH) return;
    for (const entry of entries) {
      // Hidden folders are the server's own (.hindsight-server), never a repository's.
      if (entry.isDirectory() && isRepositorySegment(entry.name)) yield* walk([...path, entry.name]);
    }
  }
  return {
    description: root,
    backendFor: (repository) => new LocalBackend(join(root, ...repository)),
    repositories: (prefix) => walk(prefix),
  };
}

/**
 * Removes the temporary files of uploads a crash or a kill cut off (never visible to clients, they only
 * take space). Run at start, before listening: no upload of this server is in flight then.
 */
export async function sweepUnfinishedUploads(storage: RepositoryStorage): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const repository of storage.repositories([])) {
    const backend = storage.backendFor(repository);
    try {
      const swept = await sweepTemporaryFiles(backend, false);
      files += swept.files;
      bytes += swept.bytes;
    } finally {
      await backend.close();
    }
  }
  return { files, bytes };
}
