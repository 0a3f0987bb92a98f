import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExcludeRules } from './excludes.js';

/**
 * Counts the files and bytes a backup will visit, alongside the backup
 * itself, so progress can show totals and an ETA. Errors only make the
 * count smaller; the backup reports them.
 */
export async function scanSources(sources: readonly string[], rules: ExcludeRules, oneFileSystem: boolean): Promise<{ files: number; bytes: number }> {
  const totals = { files: 0, bytes: 0 };
  const visit = async (path: string, relative: string, stat: BigIntStats, device: bigint): Promise<void> => {
    if (stat.isFile()) {
      totals.files += 1;
      totals.bytes += Number(stat.size);
      return;
    }
    if (!stat.isDirectory() || (oneFileSystem && stat.dev !== device)) return;
    const names = await readdir(path).catch(() => [] as string[]);
    const skipAllButTag = rules.excludeCaches && (await rules.isCacheDirectory(path));
    for (const name of names) {
      if (skipAllButTag && name !== 'CACHEDIR.TAG') continue;
      const child = join(path, name);
      const childStat = await lstat(child, { bigint: true }).catch(() => undefined);
      if (!childStat) continue;
      const childRelative = relative === '' ? name : `${relative}/${name}`;
      if (rules.matchPath(childRelative, child, childStat.isDirectory()).excluded) continue;
      if (childStat.isFile() && rules.matchSize(Number(childStat.size)).excluded) continue;
      await visit(child, childRelative, childStat, device);
    }
  };
  for (const source of sources) {
    const stat = await lstat(source, { bigint: true }).catch(() => undefined);
    if (stat) await visit(source, '', stat, stat.dev);
  }
  return totals;
}
