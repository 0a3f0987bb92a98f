import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Total bytes of the files below `path`; files in a folder whose path contains `except` are left out. */
export async function bytesUnder(path: string, options: { except?: string } = {}): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || (options.except !== undefined && entry.parentPath.includes(options.except))) continue;
    total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
