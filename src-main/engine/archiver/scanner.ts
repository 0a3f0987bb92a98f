import { lstatSync, readdirSync } from 'node:fs';
import { childPath } from './childPath.js';
import { PackedStat, type EntryStat } from './entryStat.js';
import { joinNames, lstatEntries } from './folderStats.js';
import type { ExcludeRules } from './excludes.js';

export interface ScanTotals {
  readonly files: number;
  readonly bytes: number;
}

/**
 * Counts the files and bytes a backup will visit, alongside the backup
 * itself, so progress can show totals and an ETA. Errors only make the
 * count smaller; the backup reports them. Runs in the walk worker:
 * synchronous calls (cheaper than a promise each), and a turn of the event
 * loop after every folder so the backup's own listings are not held up.
 */
export async function scanSources(sources: readonly string[], rules: ExcludeRules, oneFileSystem: boolean): Promise<ScanTotals> {
  const totals = { files: 0, bytes: 0 };
  const visit = async (path: Buffer, relative: string, stat: EntryStat, device: bigint): Promise<void> => {
    if (stat.isFile()) {
      totals.files += 1;
      totals.bytes += Number(stat.size);
      return;
    }
    if (!stat.isDirectory() || (oneFileSystem && stat.dev !== device)) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    let names: Buffer[];
    try {
      names = readdirSync(path, { encoding: 'buffer' });
    } catch {
      return;
    }
    if (rules.excludeCaches && (await rules.isCacheDirectory(path.toString()))) names = names.filter((name) => name.toString() === 'CACHEDIR.TAG');
    // Paths as bytes, as the backup walks them: a name that is not UTF-8 would not survive a string.
    const { stats, errors } = lstatEntries(path, names, joinNames(names));
    for (const [i, name] of names.entries()) {
      if (errors[i]) continue;
      const child = childPath(path, name);
      const childStat = PackedStat.at(stats, i);
      const childRelative = relative === '' ? name.toString() : `${relative}/${name.toString()}`;
      if (rules.matchPath(childRelative, child.toString(), childStat.isDirectory()).excluded) continue;
      if (childStat.isFile() && rules.matchSize(Number(childStat.size)).excluded) continue;
      await visit(child, childRelative, childStat, device);
    }
  };
  for (const source of sources) {
    const path = Buffer.from(source);
    let stat: EntryStat;
    try {
      stat = lstatSync(path, { bigint: true });
    } catch {
      continue;
    }
    await visit(path, '', stat, stat.dev);
  }
  return totals;
}
