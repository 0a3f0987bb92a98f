import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ScanWorkerData } from '../workers/scanWorker.js';
import type { ExcludeOptions, ExcludeRules } from './excludes.js';

export interface ScanTotals {
  readonly files: number;
  readonly bytes: number;
}

/** `scanSources` in a worker thread of its own, so the count does not slow the backup's walk. */
export function scanSourcesInWorker(sources: readonly string[], excludes: ExcludeOptions, oneFileSystem: boolean): Promise<ScanTotals> {
  const data: ScanWorkerData = { sources, excludes, oneFileSystem };
  const worker = new Worker(new URL('../workers/scanWorker.js', import.meta.url), { workerData: data });
  worker.unref();
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the scan worker exited with status ${code}`)));
  });
}

/**
 * Counts the files and bytes a backup will visit, alongside the backup
 * itself, so progress can show totals and an ETA. Errors only make the
 * count smaller; the backup reports them.
 */
export async function scanSources(sources: readonly string[], rules: ExcludeRules, oneFileSystem: boolean): Promise<ScanTotals> {
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
