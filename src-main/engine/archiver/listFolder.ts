import { readdirSync } from 'node:fs';
import type { ErrorInfo, ListedFlags, ListedXattrs, ListReply, ListRequest } from '../workers/walkWorker.js';
import { readFlags } from '../metadata/fileFlags.js';
import { mayHaveXattrs, readXattrs } from '../metadata/xattrs.js';
import { childPath } from './childPath.js';
import { PackedStat } from './entryStat.js';
import { entriesOf, joinedName, readEntries, type FolderEntries } from './folderStats.js';

/**
 * Lists one folder as a backup's walk asks for it (readdir, then lstat of every entry, with synchronous
 * calls; extended attributes and folders' flags when asked): in the listing thread, and on the main
 * thread while that thread is still loading (see FolderLister).
 */
export function listFolder({ id, folder, only, xattrs: withXattrs, flags: withFlags }: ListRequest): ListReply {
  const path = Buffer.from(folder, 'latin1');
  let listed: FolderEntries;
  try {
    listed = only === undefined ? readEntries(path) : onlyEntry(path, only);
  } catch (err) {
    return { id, failed: errorInfo(err) };
  }
  const { joined, ends, stats, errors: failures } = listed;
  const errors: (ErrorInfo | null)[] = [];
  const xattrs: ListedXattrs[] = [];
  const flags: ListedFlags[] = [];
  // Nearly every entry has no attributes: one call says which may, and only those are read.
  const withAttributes = withXattrs ? mayHaveXattrs(path, joined, ends) : undefined;
  for (let i = 0; i < ends.length; i++) {
    const failure = failures[i];
    errors.push(failure ? errorInfo(failure) : null);
    if (failure || (!withFlags && !withXattrs)) continue;
    const entry = childPath(path, joinedName(listed, i));
    const stat = PackedStat.at(stats, i);
    if (withFlags && stat.isDirectory()) {
      try {
        const found = readFlags(entry, stat.dev);
        if (found) flags.push({ at: i, flags: found });
      } catch (err) {
        flags.push({ at: i, error: errorInfo(err) });
      }
    }
    // Here, in this thread's synchronous loop, attributes cost their system call and nothing more.
    if (!withXattrs || withAttributes?.[i] === false) continue;
    try {
      const found = readXattrs(entry);
      if (found) xattrs.push({ at: i, xattrs: found });
    } catch (err) {
      xattrs.push({ at: i, error: errorInfo(err) });
    }
  }
  return { id, names: joined, ends, stats, errors, xattrs, flags };
}

/** The folder's entry named `only` (latin1), if it has one. */
function onlyEntry(path: Buffer, only: string): FolderEntries {
  return entriesOf(path, readdirSync(path, { encoding: 'buffer' }).filter((name) => name.toString('latin1') === only));
}

function errorInfo(err: unknown): ErrorInfo {
  return { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message };
}
