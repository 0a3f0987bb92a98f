import { readdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { HindsightError } from '../../../src-shared/errors.js';
import { parseLocation } from './location.js';

export interface NewRepositoryFolderOptions {
  /** Create missing folders above the repository (`init --create-parents`): for those who mean it. */
  readonly createParents?: boolean;
  /** How this surface creates the missing folders instead, for the message (the CLI: "add --create-parents"). */
  readonly createParentsHint?: string;
}

/**
 * Refuses, before anything is written, a local repository folder that would put the repository where
 * the user did not mean it (as borg does): one whose parent is missing, which is what an unmounted
 * disk looks like (/media/disk/hindsight would land on the system disk), and one that already holds
 * other files (the repository's folders would be mixed into them). Other kinds of location pass.
 */
export async function checkNewRepositoryFolder(location: string, options: NewRepositoryFolderOptions = {}): Promise<void> {
  const parsed = parseLocation(location);
  if (parsed.kind !== 'local') return;
  const path = resolve(parsed.path);
  const entries = await readdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    if (err.code === 'ENOTDIR') throw new HindsightError('E_NOT_EMPTY', `Cannot create a repository at ${path}: it is a file, not a folder.`);
    throw err;
  });
  if (entries !== undefined) {
    // The repository's own config is refused later, with its own message ("already a repository").
    if (entries.length > 0 && !entries.includes('config')) {
      throw new HindsightError('E_NOT_EMPTY', `Cannot create a repository at ${path}: the folder holds other files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}). Give a new or empty folder.`);
    }
    return;
  }
  if (options.createParents) return;
  const parent = dirname(path);
  const parentStat = await stat(parent).catch(() => undefined);
  if (!parentStat?.isDirectory()) {
    throw new HindsightError(
      'E_NO_PARENT',
      `Cannot create a repository at ${path}: ${parent} does not exist. If it is on a disk, is the disk mounted? To create the missing folders, ${options.createParentsHint ?? 'create them first'}.`,
    );
  }
}
