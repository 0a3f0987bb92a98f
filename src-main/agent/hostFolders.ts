import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { HostFolder } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';

const ORDER = { dir: 0, symlink: 1, file: 2, other: 3 } as const;

/**
 * Lists a folder of this machine for the folder chooser of the browser UI
 * (the desktop app uses the native dialog). Only names and kinds: choosing a
 * folder needs no contents.
 */
export async function listHostFolder(path: string | undefined): Promise<HostFolder> {
  const folder = path === undefined || path === '' || path === '~' ? homedir() : path;
  if (!isAbsolute(folder)) throw new HindsightError('E_INVALID_PARAMS', `${folder} is not an absolute path.`);
  const absolute = resolve(folder);
  let dirents;
  try {
    dirents = await readdir(absolute, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied)' : (err as Error).message;
    throw new HindsightError('E_FOLDER_UNREADABLE', `${absolute} ${why}.`, { cause: err });
  }
  const entries = dirents
    .map((d) => ({ name: d.name, type: d.isDirectory() ? ('dir' as const) : d.isFile() ? ('file' as const) : d.isSymbolicLink() ? ('symlink' as const) : ('other' as const) }))
    .sort((a, b) => ORDER[a.type] - ORDER[b.type] || a.name.localeCompare(b.name));
  const parent = dirname(absolute);
  return { path: absolute, ...(parent !== absolute ? { parent } : {}), entries };
}
