import { join } from 'node:path';

/**
 * The server's own files (user file, token key, self-signed certificate) beside the repositories: a
 * folder whose name no repository path can take (repository folder names never start with a dot).
 */
export function serverStateFolder(data: string): string {
  return join(data, '.hindsight-server');
}
