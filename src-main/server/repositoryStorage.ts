import { join } from 'node:path';
import type { Backend } from '../engine/backend/backend.js';
import { LocalBackend } from '../engine/backend/localBackend.js';

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
}

/** Repositories as folders under one directory: DIR/alice/laptop/{config,keys,data,…}. */
export function folderStorage(root: string): RepositoryStorage {
  return {
    description: root,
    backendFor: (repository) => new LocalBackend(join(root, ...repository)),
  };
}
