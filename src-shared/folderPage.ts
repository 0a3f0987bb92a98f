import type { BrowseEntry, BrowsePage, Params } from './api.js';

export type FolderOrder = Pick<Params<'snapshots.browsePage'>, 'sort' | 'descending' | 'filter' | 'foldersOnly'>;

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * A folder's entries in the order the browser shows them: folders first (as file managers do), then by
 * name, size or time, ties by name; only those whose name contains `filter`. Sorting once and slicing
 * pages from the result is what lets a 50,000-entry folder be read a page at a time.
 */
export function orderEntries(entries: readonly BrowseEntry[], order: FolderOrder): BrowseEntry[] {
  const needle = order.filter?.toLocaleLowerCase() ?? '';
  const kept = entries.filter((e) => (!order.foldersOnly || e.type === 'dir') && (needle === '' || e.name.toLocaleLowerCase().includes(needle)));
  const key = order.sort ?? 'name';
  const sign = order.descending ? -1 : 1;
  return kept.sort((a, b) => {
    const folders = Number(b.type === 'dir') - Number(a.type === 'dir');
    if (folders !== 0) return folders;
    const names = byName.compare(a.name, b.name);
    if (key === 'name') return sign * names;
    const primary = key === 'size' ? (a.size ?? 0) - (b.size ?? 0) : a.mtime.localeCompare(b.mtime);
    // Ties keep the name order a person reads down, whichever way the column is sorted.
    return primary !== 0 ? sign * primary : names;
  });
}

export function pageOf(ordered: readonly BrowseEntry[], offset: number, limit: number): BrowsePage {
  return { entries: ordered.slice(offset, offset + limit), offset, total: ordered.length };
}
