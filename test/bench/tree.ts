import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeFile {
  /** Relative to the tree's root, '/'-separated. */
  path: string;
  size: number;
}

export interface TreeListing {
  /** Regular files, sorted by path, so that seeded picks select the same files on every machine. */
  files: TreeFile[];
  folders: string[];
  /** Symbolic links (backed up as links; not picked for changes). */
  links: number;
  bytes: number;
}

/** Lists a tree (regular files with sizes, folders, a count of symbolic links) without following links. */
export async function listTree(root: string): Promise<TreeListing> {
  const listing: TreeListing = { files: [], folders: [], links: 0, bytes: 0 };
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(root, relative), { withFileTypes: true });
    for (const entry of entries) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        listing.folders.push(path);
        await walk(path);
      } else if (entry.isFile()) {
        const { size } = await lstat(join(root, path));
        listing.files.push({ path, size });
        listing.bytes += size;
      } else if (entry.isSymbolicLink()) listing.links += 1;
    }
  };
  await walk('');
  // Sort by code units, not locale: the order must not depend on the machine's language settings.
  listing.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  listing.folders.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return listing;
}
