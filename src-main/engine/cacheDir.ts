import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where Hindsight keeps rebuildable local state (files cache, catalogue):
 * $HINDSIGHT_CACHE_DIR, else the platform's cache folder.
 */
export function cacheRoot(): string {
  if (process.env.HINDSIGHT_CACHE_DIR) return process.env.HINDSIGHT_CACHE_DIR;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'Hindsight');
  if (process.platform === 'win32') return join(process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'Hindsight', 'Cache');
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hindsight');
}

/** The cache folder of one repository, by its id. */
export function repositoryCacheDir(repositoryId: string): string {
  return join(cacheRoot(), repositoryId);
}
