import { lstatSync, readdirSync } from 'node:fs';
import { childPath } from './childPath.js';
import { PackedStat, type EntryStat } from './entryStat.js';
import { StatScratch, joinNames, lstatEntries } from './folderStats.js';
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
 *
 * Folder by folder from a list of those still to count, depth first in name order: a file costs no
 * promise, and one folder's stats are done with before the next is listed, so one set of arrays serves
 * them all (StatScratch). Recursing into each entry with a promise per file, the count of a million
 * files in a thousand folders took 5.4-5.8 CPU-seconds, now 5.0 (the linux tree: 0.86 -> 0.78).
 */
export async function scanSources(sources: readonly string[], rules: ExcludeRules, oneFileSystem: boolean): Promise<ScanTotals> {
  const totals = { files: 0, bytes: 0 };
  const scratch = new StatScratch();
  const count = (stat: EntryStat) => {
    totals.files += 1;
    totals.bytes += Number(stat.size);
  };
  for (const source of sources) {
    const root = Buffer.from(source);
    let stat: EntryStat;
    try {
      stat = lstatSync(root, { bigint: true });
    } catch {
      continue;
    }
    if (stat.isFile()) count(stat);
    if (!stat.isDirectory()) continue;
    const device = stat.dev;
    const folders: { path: Buffer; relative: string }[] = [{ path: root, relative: '' }];
    for (let folder = folders.pop(); folder; folder = folders.pop()) {
      const { path, relative } = folder;
      await new Promise<void>((resolve) => setImmediate(resolve));
      let names: Buffer[];
      try {
        names = readdirSync(path, { encoding: 'buffer' });
      } catch {
        continue;
      }
      if (rules.excludeCaches && (await rules.isCacheDirectory(path.toString()))) names = names.filter((name) => name.toString() === 'CACHEDIR.TAG');
      // Paths as bytes, as the backup walks them: a name that is not UTF-8 would not survive a string.
      const { stats, errors } = lstatEntries(path, names, joinNames(names), scratch);
      const subfolders: { path: Buffer; relative: string }[] = [];
      for (const [i, name] of names.entries()) {
        if (errors[i]) continue;
        const child = childPath(path, name);
        const childStat = PackedStat.at(stats, i);
        const childRelative = relative === '' ? name.toString() : `${relative}/${name.toString()}`;
        if (rules.matchPath(childRelative, child.toString(), childStat.isDirectory()).excluded) continue;
        if (childStat.isFile()) {
          if (!rules.matchSize(Number(childStat.size)).excluded) count(childStat);
        } else if (childStat.isDirectory() && !(oneFileSystem && childStat.dev !== device)) {
          subfolders.push({ path: child, relative: childRelative });
        }
      }
      // Last in, first out: pushed backwards, they are counted in name order.
      for (let i = subfolders.length - 1; i >= 0; i--) folders.push(subfolders[i] as { path: Buffer; relative: string });
    }
  }
  return totals;
}
