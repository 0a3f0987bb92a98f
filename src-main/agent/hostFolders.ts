import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, posix, resolve } from 'node:path';
import type { HostFolder } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { sourcePathsFor } from '../engine/source/sourceFor.js';

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

/**
 * Lists a folder on another machine over SFTP, for the folder chooser's sftp:// sources: with the
 * agent's own SSH keys and known_hosts (an unknown host is refused, with its fingerprint, as a plan's
 * backup would be). One connection per call: choosing a folder is a few clicks.
 */
export async function listRemoteFolder(location: string): Promise<HostFolder> {
  const url = /^(sftp:\/\/[^/]+)(\/.*)?$/i.exec(location);
  if (!url) throw new HindsightError('E_INVALID_PARAMS', `${location} is not an sftp://user@host[:port]/path location.`);
  const machine = url[1] as string;
  // Without a folder: the user's home folder there.
  const where = await sourcePathsFor([url[2] ? location : `${machine}/~/`]);
  try {
    const folder = where.paths[0] as string;
    const lister = where.source.lister();
    try {
      const listing = await lister.list(Buffer.from(folder));
      if ('failed' in listing) {
        const why = listing.failed.code === 'ENOENT' ? 'does not exist' : listing.failed.code === 'EACCES' ? 'cannot be read (permission denied)' : listing.failed.message;
        throw new HindsightError('E_FOLDER_UNREADABLE', `${machine}${folder} ${why}.`);
      }
      const entries = listing.entries
        .filter((entry) => entry.stat !== undefined)
        .map((entry) => {
          const stat = entry.stat as NonNullable<typeof entry.stat>;
          return { name: entry.name.toString(), type: stat.isDirectory() ? ('dir' as const) : stat.isFile() ? ('file' as const) : stat.isSymbolicLink() ? ('symlink' as const) : ('other' as const) };
        })
        .sort((a, b) => ORDER[a.type] - ORDER[b.type] || a.name.localeCompare(b.name));
      const parent = posix.dirname(folder);
      return { path: `${machine}${folder}`, ...(parent !== folder ? { parent: `${machine}${parent}` } : {}), entries };
    } finally {
      lister.close();
    }
  } finally {
    await where.close();
  }
}
