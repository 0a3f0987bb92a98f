import { useCallback, useEffect, useRef, useState } from 'react';
import type { BrowseEntry } from '../../../src-shared/api.js';
import type { HindsightClient } from '../../../src-shared/client.js';
import type { FolderOrder } from '../../../src-shared/folderPage.js';

export const PAGE_SIZE = 500;

export interface FolderPages {
  /** How many entries match; undefined until the first page came. */
  readonly total: number | undefined;
  readonly error: string | undefined;
  /** The entry at `index`, if its page is loaded. */
  entryAt(index: number): BrowseEntry | undefined;
  /** Asks for the pages covering [from, to) that are not loaded or on their way. */
  want(from: number, to: number): void;
}

/**
 * A folder of a snapshot read a page at a time (snapshots.browsePage), as the list scrolls: a folder of
 * 50,000 files costs the first page to open, and each further page only when it comes into view.
 */
export function useFolderPages(client: HindsightClient, folder: { repository: string; snapshot: string; path: string } | undefined, order: FolderOrder): FolderPages {
  const [pages, setPages] = useState<ReadonlyMap<number, BrowseEntry[]>>(new Map());
  const [total, setTotal] = useState<number>();
  const [error, setError] = useState<string>();
  const asked = useRef(new Set<number>());
  const generation = useRef(0);
  const key = JSON.stringify([folder, order]);

  const fetchPage = useCallback(
    (page: number) => {
      if (!folder || asked.current.has(page)) return;
      asked.current.add(page);
      const mine = generation.current;
      client
        .call('snapshots.browsePage', { ...folder, ...order, offset: page * PAGE_SIZE, limit: PAGE_SIZE })
        .then((result) => {
          if (mine !== generation.current) return;
          setTotal(result.total);
          setPages((old) => new Map(old).set(page, result.entries));
        })
        .catch((err: Error) => {
          if (mine !== generation.current) return;
          asked.current.delete(page);
          setError(err.message);
        });
    },
    // `key` stands for folder and order: new objects each render, the same folder and order by value.
    [client, key],
  );

  useEffect(() => {
    generation.current += 1;
    asked.current = new Set();
    setPages(new Map());
    setTotal(undefined);
    setError(undefined);
    fetchPage(0);
  }, [fetchPage]);

  return {
    total,
    error,
    entryAt: (index) => pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE],
    want: (from, to) => {
      for (let page = Math.floor(Math.max(0, from) / PAGE_SIZE); page * PAGE_SIZE < Math.min(to, total ?? 0); page++) fetchPage(page);
    },
  };
}
