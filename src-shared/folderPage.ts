import type { BrowseEntry, BrowsePage, Params } from './api.js';

export type FolderOrder = Pick<Params<'snapshots.browsePage'>, 'sort' | 'descending' | 'filter' | 'foldersOnly'>;

/**
 * An entry of a folder as the agent keeps it between pages: a BrowseEntry with its time as milliseconds.
 * The time is written out (ISO 8601) only for the entries of the page sent, not for all 50,000 of a big
 * folder, and sorting by time compares numbers.
 */
export type FolderEntry = Omit<BrowseEntry, 'mtime'> & { readonly mtimeMs: number };

export function browseEntryOf(entry: FolderEntry): BrowseEntry {
  const { mtimeMs, ...rest } = entry;
  return { ...rest, mtime: new Date(mtimeMs).toISOString() };
}

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * A folder's entries in the order the browser shows them: folders first (as file managers do), then by
 * name, size or time, ties by name; only those whose name contains `filter`. Sorting once and slicing
 * pages from the result is what lets a 50,000-entry folder be read a page at a time.
 */
export function orderEntries(entries: readonly FolderEntry[], order: FolderOrder): FolderEntry[] {
  const needle = order.filter?.toLocaleLowerCase() ?? '';
  const kept = entries.filter((e) => (!order.foldersOnly || e.type === 'dir') && (needle === '' || e.name.toLocaleLowerCase().includes(needle)));
  const key = order.sort ?? 'name';
  const sign = order.descending ? -1 : 1;
  return kept.sort((a, b) => {
    const folders = Number(b.type === 'dir') - Number(a.type === 'dir');
    if (folders !== 0) return folders;
    if (key === 'name') return sign * byName.compare(a.name, b.name);
    const primary = key === 'size' ? (a.size ?? 0) - (b.size ?? 0) : a.mtimeMs - b.mtimeMs;
    // Ties keep the name order a person reads down, whichever way the column is sorted; names are
    // compared only for ties (the collator is the slow part of a sort by size or time).
    return primary !== 0 ? sign * primary : byName.compare(a.name, b.name);
  });
}

export function pageOf(ordered: readonly FolderEntry[], offset: number, limit: number): BrowsePage {
  return { entries: ordered.slice(offset, offset + limit).map(browseEntryOf), offset, total: ordered.length };
}
