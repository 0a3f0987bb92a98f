import { spawnSync } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes of `path` in the page cache (util-linux's fincore), or undefined where fincore is missing. */
export function cachedBytes(path: string): number | undefined {
  const result = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.trim()) : undefined;
}

/**
 * Why page-cache use cannot be checked in `folder`, or undefined when it can: fincore is there, and the
 * kernel takes O_DIRECT for files in `folder` (Linux, and a file system that has it).
 */
export async function pageCacheUncheckable(folder: string): Promise<string | undefined> {
  if (cachedBytes('/proc/self/exe') === undefined) return 'fincore (util-linux) is missing';
  const { O_DIRECT } = fsConstants as { O_DIRECT?: number };
  if (O_DIRECT === undefined) return 'this system has no O_DIRECT';
  const probe = join(folder, '.o-direct-probe');
  try {
    await (await open(probe, fsConstants.O_WRONLY | fsConstants.O_CREAT | O_DIRECT, 0o600)).close();
    return undefined;
  } catch {
    return `the file system of ${folder} refuses O_DIRECT`;
  } finally {
    await rm(probe, { force: true });
  }
}
