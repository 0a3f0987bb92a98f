import { useEffect, useLayoutEffect, useRef, useState, type DragEvent } from 'react';
import type { BrowseEntry } from '../../../src-shared/api.js';
import type { FolderOrder } from '../../../src-shared/folderPage.js';
import { formatBytes, formatDateTime } from '../format.js';
import type { DragRestore } from './dragState.js';
import type { FolderPages } from './useFolderPages.js';

/** Every row is this tall, so the list knows which rows a scroll position shows without measuring them. */
export const ROW_HEIGHT = 36;
/** Rows drawn beyond the visible ones on each side, so a fast scroll does not show blank rows. */
const OVERSCAN = 15;

export type SortKey = NonNullable<FolderOrder['sort']>;

export interface Selection {
  /** The whole folder is selected (restored as one item), whatever is loaded. */
  readonly all: boolean;
  readonly names: ReadonlySet<string>;
}

interface FileListProps {
  readonly pages: FolderPages;
  readonly folder: string;
  readonly sort: SortKey;
  readonly descending: boolean;
  readonly onSort: (sort: SortKey, descending: boolean) => void;
  readonly selection: Selection;
  readonly onSelection: (selection: Selection) => void;
  /** The file whose details are open. */
  readonly activeName: string | undefined;
  readonly onOpen: (entry: BrowseEntry) => void;
  readonly onUp: (() => void) | undefined;
  /** The desktop app's drag-to-restore; in a browser, `downloadUrl` stands in for it. */
  readonly drag: DragRestore | undefined;
  readonly itemOf: (name: string) => { repository: string; snapshot: string; path: string };
  readonly downloadUrl: ((name: string) => string) | undefined;
  readonly onNotice: (notice: string) => void;
}

/**
 * The entries of one folder as a table that draws only the rows in view (plus a margin), with spacer
 * rows standing in for the others: a folder of 50,000 files scrolls like one of 50. Rows come from
 * `pages`, which fetches each page as it comes into view.
 */
export function FileList(props: FileListProps) {
  const { pages, selection } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const measure = () => setView({ top: element.scrollTop, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // A new folder, order or filter starts at the top.
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [props.folder, props.sort, props.descending]);

  const total = pages.total ?? 0;
  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(total, Math.ceil((view.top + view.height) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => pages.want(first, last), [pages, first, last]);

  const header = (key: SortKey, label: string, className?: string) => {
    const active = props.sort === key;
    return (
      <th className={className} aria-sort={active ? (props.descending ? 'descending' : 'ascending') : 'none'}>
        <button type="button" className="sort-button" onClick={() => props.onSort(key, active ? !props.descending : key !== 'name')}>
          {label}
          {active ? (props.descending ? ' ↓' : ' ↑') : ''}
        </button>
      </th>
    );
  };

  const toggle = (name: string, checked: boolean) => {
    // From "the whole folder" to all loaded rows but this one: the rest of a huge folder is not at hand.
    const names = new Set(selection.all ? loadedNames(pages, total) : selection.names);
    if (checked) names.add(name);
    else names.delete(name);
    props.onSelection({ all: false, names });
  };

  const onDragStart = (e: DragEvent, entry: BrowseEntry) => {
    if (props.drag) {
      // The OS drag replaces the HTML one; a row not restored yet says so instead of doing nothing.
      e.preventDefault();
      const result = props.drag.start(props.itemOf(entry.name), entry.name);
      if (!result.started) props.onNotice(result.notice);
    } else if (props.downloadUrl && entry.type === 'file') {
      const url = new URL(props.downloadUrl(entry.name), location.href).toString();
      e.dataTransfer.setData('DownloadURL', `application/octet-stream:${entry.name}:${url}`);
      e.dataTransfer.setData('text/uri-list', url);
    }
  };

  const rows = [];
  for (let index = first; index < last; index++) {
    const entry = pages.entryAt(index);
    if (!entry) {
      rows.push(
        <tr key={`loading-${index}`} className="file-row placeholder" style={{ height: ROW_HEIGHT }}>
          <td />
          <td colSpan={3} className="muted">
            …
          </td>
        </tr>,
      );
      continue;
    }
    const drag = props.drag?.state(props.itemOf(entry.name));
    rows.push(
      <tr
        key={entry.name}
        className={`file-row${props.activeName === entry.name ? ' active' : ''}`}
        style={{ height: ROW_HEIGHT }}
        draggable={props.drag !== undefined || (props.downloadUrl !== undefined && entry.type === 'file')}
        onPointerDown={() => props.drag?.prepare(props.itemOf(entry.name), entry.name)}
        onDragStart={(e) => onDragStart(e, entry)}
        data-name={entry.name}
        data-drag={drag?.kind}
        aria-busy={drag?.kind === 'preparing' ? true : undefined}
      >
        <td className="check">
          <input type="checkbox" aria-label={`Select ${entry.name}`} checked={selection.all || selection.names.has(entry.name)} onChange={(e) => toggle(entry.name, e.target.checked)} />
        </td>
        <td>
          <div className="name-line">
            <button type="button" className="name-button" onClick={() => props.onOpen(entry)}>
              <span className={`icon icon-${entry.type === 'dir' ? 'folder' : entry.type === 'symlink' ? 'link' : 'file'}`} aria-hidden="true" />
              {entry.name}
              {entry.linkTarget && <span className="muted small"> → {entry.linkTarget}</span>}
            </button>
            {drag && <DragBadge state={drag.kind} />}
          </div>
        </td>
        <td className="right">{entry.size !== undefined ? formatBytes(entry.size) : ''}</td>
        <td>{formatDateTime(entry.mtime)}</td>
      </tr>,
    );
  }

  return (
    <div className="file-scroll" ref={scroller} onScroll={(e) => setView({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight })}>
      <table className="table files" aria-label="Files" aria-rowcount={total + 1}>
        <colgroup>
          <col className="check-col" />
          <col />
          <col className="size-col" />
          <col className="time-col" />
        </colgroup>
        <thead>
          <tr>
            <th className="check">
              <input type="checkbox" aria-label="Select all" checked={selection.all} disabled={total === 0} onChange={(e) => props.onSelection({ all: e.target.checked, names: new Set() })} />
            </th>
            {header('name', 'Name')}
            {header('size', 'Size', 'right')}
            {header('mtime', 'Modified')}
          </tr>
        </thead>
        <tbody>
          {props.onUp && (
            <tr className="file-row">
              <td />
              <td colSpan={3}>
                <button type="button" className="name-button" onClick={props.onUp}>
                  <span className="icon icon-up" aria-hidden="true" />
                  ..
                </button>
              </td>
            </tr>
          )}
          {pages.total === 0 && (
            <tr>
              <td colSpan={4} className="muted center">
                Nothing here.
              </td>
            </tr>
          )}
          {first > 0 && <tr aria-hidden="true" style={{ height: first * ROW_HEIGHT }} />}
          {rows}
          {last < total && <tr aria-hidden="true" style={{ height: (total - last) * ROW_HEIGHT }} />}
        </tbody>
      </table>
    </div>
  );
}

function DragBadge({ state }: { state: 'preparing' | 'ready' | 'failed' }) {
  const label = state === 'preparing' ? 'Preparing…' : state === 'ready' ? 'Ready to drag' : 'Could not prepare';
  return <span className={`drag-badge drag-${state}`}>{label}</span>;
}

function loadedNames(pages: FolderPages, total: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < total; i++) {
    const entry = pages.entryAt(i);
    if (entry) names.push(entry.name);
  }
  return names;
}
