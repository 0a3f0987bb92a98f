import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheRoot } from './cacheDir.js';

/** A cache folder no command has used for this long belongs to a repository that is gone (restic's rule too). */
export const DEFAULT_MAX_UNUSED_MS = 30 * 24 * 3600_000;

export interface CacheFolder {
  readonly repositoryId: string;
  readonly lastUsed: Date;
}

/**
 * Removes the cache folders (files cache, catalogue) of repositories no command has opened for
 * `maxUnusedMs`: gone, or no longer backed up. A cache is rebuildable, so a mistake costs only time.
 */
export async function removeOldCaches(maxUnusedMs = DEFAULT_MAX_UNUSED_MS, options: { readonly dryRun?: boolean } = {}): Promise<CacheFolder[]> {
  const root = cacheRoot();
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const removed: CacheFolder[] = [];
  for (const entry of entries) {
    // Only folders named like a repository id: the cache root may be shared with something else.
    if (!entry.isDirectory() || !/^[0-9a-f]{64}$/.test(entry.name)) continue;
    const folder = join(root, entry.name);
    const lastUsed = await newestChange(folder);
    if (Date.now() - lastUsed.getTime() < maxUnusedMs) continue;
    if (!options.dryRun) await rm(folder, { recursive: true, force: true });
    removed.push({ repositoryId: entry.name, lastUsed });
  }
  return removed;
}

/** The newest modification time of a folder and the files directly in it (the databases a command writes). */
async function newestChange(folder: string): Promise<Date> {
  let newest = (await stat(folder)).mtimeMs;
  for (const name of await readdir(folder)) {
    const info = await stat(join(folder, name)).catch(() => undefined);
    if (info && info.mtimeMs > newest) newest = info.mtimeMs;
  }
  return new Date(newest);
}
