import type { BrowseEntry, BrowsePage, FileRange, Results, SnapshotInfo } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { browseEntryOf, orderEntries, pageOf, type FolderEntry, type FolderOrder } from '../../src-shared/folderPage.js';
import { Catalogue } from '../engine/catalogue/catalogue.js';
import type { Repository } from '../engine/repository/repository.js';
import { listSnapshots, resolveSnapshot } from '../engine/snapshot/snapshot.js';
import { loadListing } from '../engine/snapshot/treeListing.js';
import { findPath } from '../engine/snapshot/treePath.js';

/** Folders read, and their orders, per open repository, the most recently used last: a few, for the folders a person has open. */
const readFolders = new WeakMap<Repository, Map<string, Promise<FolderEntry[]>>>();
const orderedFolders = new WeakMap<Repository, Map<string, Promise<FolderEntry[]>>>();
const FOLDERS_KEPT = 8;

function recent<T>(caches: WeakMap<Repository, Map<string, Promise<T>>>, repository: Repository, key: string, make: () => Promise<T>): Promise<T> {
  let cache = caches.get(repository);
  if (!cache) caches.set(repository, (cache = new Map()));
  const value = cache.get(key) ?? make();
  cache.delete(key);
  cache.set(key, value);
  for (const old of cache.keys()) if (cache.size > FOLDERS_KEPT) cache.delete(old);
  return value;
}

async function readFolder(repository: Repository, snapshotId: string, path: string): Promise<FolderEntry[]> {
  const snapshot = await resolveSnapshot(repository, snapshotId);
  const target = await findPath(repository, snapshot, path);
  if (target.kind !== 'dir') throw new HindsightError('E_NOT_A_FOLDER', `${path} is a file in snapshot ${snapshot.id.slice(0, 8)}, not a folder.`);
  return loadListing(repository, target.tree);
}

/** The read-only snapshot calls of the API, answered from the repository and its local catalogue. */
export const snapshotQueries = {
  async list(repository: Repository): Promise<SnapshotInfo[]> {
    return (await listSnapshots(repository)).map((s) => ({
      id: s.id,
      time: s.time,
      host: s.host,
      paths: s.paths,
      tags: s.tags,
      type: s.type,
      ...(s.parent ? { parent: s.parent } : {}),
      ...(s.summary ? { totalFiles: s.summary.totalFiles, totalBytes: s.summary.totalBytes, bytesAdded: s.summary.bytesAdded } : {}),
    }));
  },

  async browse(repository: Repository, snapshotId: string, path: string): Promise<BrowseEntry[]> {
    return (await readFolder(repository, snapshotId, path)).map(browseEntryOf);
  },

  /**
   * A page of a folder. A folder is read once and each order of it sorted once, and both are kept for
   * the next pages (a snapshot's trees never change): scrolling through a big folder, and the folder
   * tree asking for the same folder's subfolders, cost one read of its tree.
   */
  async browsePage(repository: Repository, snapshotId: string, path: string, order: FolderOrder, offset: number, limit: number): Promise<BrowsePage> {
    const snapshot = await resolveSnapshot(repository, snapshotId);
    const folder = JSON.stringify([snapshot.id, path]);
    const entries = recent(readFolders, repository, folder, () => readFolder(repository, snapshot.id, path));
    const ordered = recent(orderedFolders, repository, JSON.stringify([folder, order.sort, order.descending, order.filter, order.foldersOnly]), async () => orderEntries(await entries, order));
    try {
      return pageOf(await ordered, offset, limit);
    } catch (err) {
      // A failed read is not kept: the next call tries again.
      readFolders.get(repository)?.delete(folder);
      orderedFolders.get(repository)?.clear();
      throw err;
    }
  },

  /** Bytes [offset, offset + length) of a file, loading only the chunks that overlap them. */
  async read(repository: Repository, snapshotId: string, path: string, offset: number, length: number): Promise<FileRange> {
    const snapshot = await resolveSnapshot(repository, snapshotId);
    const target = await findPath(repository, snapshot, path);
    if (target.kind !== 'entry' || target.node.type !== 'file') throw new HindsightError('E_NOT_A_FILE', `${path} in snapshot ${snapshot.id.slice(0, 8)} is not a file.`);
    const { size, content = [] } = target.node;
    const end = Math.min(size, offset + length);
    const parts: Buffer[] = [];
    let chunkStart = 0;
    for (const id of content) {
      if (chunkStart >= end) break;
      const chunkLength = repository.index.get(id)?.rawLength;
      if (chunkLength === undefined) throw new HindsightError('E_BLOB_NOT_FOUND', `A chunk of ${path} is missing from the repository; run check.`);
      const chunkEnd = chunkStart + chunkLength;
      if (chunkEnd > offset) {
        const chunk = await repository.loadBlob(id);
        parts.push(chunk.subarray(Math.max(0, offset - chunkStart), Math.min(chunk.length, end - chunkStart)));
      }
      chunkStart = chunkEnd;
    }
    return { size, offset: Math.min(offset, size), data: Buffer.concat(parts).toString('base64') };
  },

  versions: (repository: Repository, path: string) => Catalogue.withSynced(repository, (catalogue) => catalogue.versions(path)),

  diff: (repository: Repository, from: string, to: string): Promise<Results['snapshots.diff']> =>
    Catalogue.withSynced(repository, async (catalogue) => {
      const [a, b] = [await resolveSnapshot(repository, from), await resolveSnapshot(repository, to)];
      return catalogue.diff(a.id, b.id);
    }),

  /** A glob as in `hindsight find`; plain text (no * ? [) finds names that contain it, as a search box should. */
  search: (repository: Repository, pattern: string) =>
    Catalogue.withSynced(repository, (catalogue) => catalogue.find(/[*?[]/.test(pattern) ? pattern : `*${pattern}*`)),
};

