import { useEffect, useMemo, useReducer, useState } from 'react';
import type { BrowseEntry, Results, SnapshotInfo, VersionEntry } from '../../../src-shared/api.js';
import type { SnapshotItem } from '../../../src-shared/client.js';
import { DragRestore } from '../browser/dragState.js';
import { FileList, type Selection, type SortKey } from '../browser/FileList.js';
import { FolderTree } from '../browser/FolderTree.js';
import { useFolderPages } from '../browser/useFolderPages.js';
import { FilePreview } from '../components/FilePreview.js';
import { RepositoryPicker, useChosenRepository, useSnapshots } from '../components/RepositoryPicker.js';
import { RestoreDialog } from '../components/RestoreDialog.js';
import { EmptyState, ErrorMessage, Loading } from '../components/States.js';
import { baseName, formatBytes, formatDateTime, formatDateTimeSeconds, joinPath, parentPath } from '../format.js';
import { DrivePanel, OpenDriveButton, useDrive } from '../components/DriveAccess.js';
import { useApp } from '../store/appContext.js';

/** The folder a snapshot is best opened at: the deepest folder all its backed-up paths share. */
function startPath(snapshot: SnapshotInfo): string {
  const split = snapshot.paths.map((p) => p.split('/').filter(Boolean));
  const common: string[] = [];
  for (let i = 0; split.every((parts) => parts.length > i && parts[i] === split[0]![i]); i++) common.push(split[0]![i]!);
  return `/${common.join('/')}`;
}

export function Browser() {
  const repository = useChosenRepository();
  const snapshots = useSnapshots(repository);
  const route = useApp((s) => s.route);
  const navigate = useApp((s) => s.navigate);
  const client = useApp((s) => s.connection.client);
  const connection = useApp((s) => s.connection);
  const snapshot = snapshots?.find((s) => s.id === route.params.snapshot) ?? snapshots?.[snapshots.length - 1];
  const path = route.params.path || (snapshot ? startPath(snapshot) : '/');
  const file = route.params.file;
  const [selection, setSelection] = useState<Selection>({ all: false, names: new Set() });
  const [order, setOrder] = useState<{ sort: SortKey; descending: boolean }>({ sort: 'name', descending: false });
  const [filter, setFilter] = useState('');
  const [restoring, setRestoring] = useState<{ items: SnapshotItem[]; time?: string }>();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Results['snapshots.search']>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [opened, setOpened] = useState<BrowseEntry>();
  const drive = useDrive();
  const drag = useMemo(() => (client.desktop ? new DragRestore(client.desktop) : undefined), [client]);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  useEffect(() => drag?.subscribe(redraw), [drag]);

  const folder = repository && snapshot ? { repository, snapshot: snapshot.id, path } : undefined;
  const pages = useFolderPages(client, folder, { ...order, filter });

  const go = (params: Record<string, string | undefined>) =>
    navigate('browse', Object.fromEntries(Object.entries({ repo: repository, snapshot: snapshot?.id, path, file, ...params }).filter((e): e is [string, string] => e[1] !== undefined)));

  useEffect(() => {
    setSelection({ all: false, names: new Set() });
    setNotice(undefined);
    setFilter('');
  }, [repository, snapshot?.id, path]);

  // The open file's entry: the row it was opened from, or looked up by name (after a reload, from search).
  useEffect(() => {
    if (!file || !repository || !snapshot || opened?.name === baseName(file)) return;
    let cancelled = false;
    client
      .call('snapshots.browsePage', { repository, snapshot: snapshot.id, path: parentPath(file), filter: baseName(file), limit: 2000 })
      .then((page) => !cancelled && setOpened(page.entries.find((e) => e.name === baseName(file))))
      .catch(() => !cancelled && setOpened(undefined));
    return () => {
      cancelled = true;
    };
  }, [client, repository, snapshot, file, opened]);

  const search = async () => {
    if (!repository || !query.trim()) return setResults(undefined);
    try {
      setResults(await client.call('snapshots.search', { repository, pattern: query.trim() }));
    } catch (err) {
      setError((err as Error).message);
    }
  };

  if (!repository) return <EmptyState title="No repository yet">Set up a backup first.</EmptyState>;
  if (!snapshots) return <Loading what="snapshots" />;
  if (!snapshot) return <EmptyState title="No snapshots yet">Once the first backup has finished, you can browse it here.</EmptyState>;

  const item = (name: string): SnapshotItem => ({ repository, snapshot: snapshot.id, path: joinPath(path, name) });
  const crumbs = path.split('/').filter(Boolean);
  const fileEntry = file && opened?.name === baseName(file) ? opened : undefined;
  const chosen = selection.all ? [{ repository, snapshot: snapshot.id, path }] : [...selection.names].map(item);

  return (
    <div className="browser">
      <div className="toolbar">
        <RepositoryPicker value={repository} />
        <select aria-label="Snapshot" value={snapshot.id} onChange={(e) => go({ snapshot: e.target.value, file: undefined })}>
          {[...snapshots].reverse().map((s) => (
            <option key={s.id} value={s.id}>
              {formatDateTime(s.time)} · {s.id.slice(0, 8)}
            </option>
          ))}
        </select>
        <OpenDriveButton state={drive.state} snapshot={snapshot.id} onOpen={() => drive.open(repository, snapshot.id)} />
        <span className="spacer" />
        <form
          className="search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            void search();
          }}
        >
          <input type="search" aria-label="Search all snapshots" placeholder="Search all snapshots…" value={query} onChange={(e) => setQuery(e.target.value)} />
          <button type="submit" className="button">
            Search
          </button>
        </form>
      </div>

      <DrivePanel state={drive.state} onClose={drive.close} />

      {results && (
        <section className="card search-results" aria-label="Search results">
          <header className="row">
            <h2>
              {results.length} match{results.length === 1 ? '' : 'es'} for "{query}"
            </h2>
            <span className="spacer" />
            <button type="button" className="button small" onClick={() => setResults(undefined)}>
              Close
            </button>
          </header>
          <ul className="result-list">
            {results.slice(0, 200).map((r) => {
              const latest = r.snapshots[r.snapshots.length - 1];
              return (
                <li key={r.path}>
                  <button type="button" className="link-button mono" onClick={() => latest && go({ snapshot: latest.id, path: parentPath(r.path), file: r.path })}>
                    {r.path}
                  </button>
                  <span className="muted small">
                    {' '}
                    in {r.snapshots.length} snapshot{r.snapshots.length === 1 ? '' : 's'}
                  </span>
                </li>
              );
            })}
          </ul>
        </section>
      )}

      <div className="browser-body">
        <FolderTree client={client} repository={repository} snapshot={snapshot.id} current={path} onOpen={(folderPath) => go({ path: folderPath, file: undefined })} />
        <section className="card listing">
          <nav className="breadcrumbs" aria-label="Folder">
            <button type="button" className="crumb" onClick={() => go({ path: '/', file: undefined })}>
              {formatDateTime(snapshot.time)}
            </button>
            {crumbs.map((part, i) => (
              <span key={i}>
                <span className="crumb-sep" aria-hidden="true">
                  ›
                </span>
                <button type="button" className="crumb" aria-current={i === crumbs.length - 1 ? 'location' : undefined} onClick={() => go({ path: `/${crumbs.slice(0, i + 1).join('/')}`, file: undefined })}>
                  {part}
                </button>
              </span>
            ))}
          </nav>
          <div className="listing-actions">
            <input type="search" className="filter" aria-label="Filter by name" placeholder="Filter by name" value={filter} onChange={(e) => setFilter(e.target.value)} />
            <span className="muted small" role="status">
              {pages.total === undefined
                ? ''
                : selection.all
                  ? `The whole folder (${pages.total.toLocaleString()} items) selected`
                  : selection.names.size > 0
                    ? `${selection.names.size} selected`
                    : `${pages.total.toLocaleString()} item${pages.total === 1 ? '' : 's'}${filter ? ' match' : ''}. Select files and folders to restore, or drag one out.`}
            </span>
            <span className="spacer" />
            <button type="button" className="button primary" disabled={chosen.length === 0} onClick={() => setRestoring({ items: chosen, time: snapshot.time })}>
              Restore{selection.names.size > 0 ? ` ${selection.names.size}` : ''}…
            </button>
          </div>
          {notice && (
            <div className="listing-notice" role="alert">
              {notice}
              <button type="button" className="link-button" onClick={() => setNotice(undefined)}>
                Dismiss
              </button>
            </div>
          )}
          {(error ?? pages.error) && <ErrorMessage>{error ?? pages.error}</ErrorMessage>}
          {pages.total === undefined && !pages.error && <Loading what="folder" />}
          {pages.total !== undefined && (
            <FileList
              pages={pages}
              folder={`${snapshot.id}:${path}:${filter}`}
              sort={order.sort}
              descending={order.descending}
              onSort={(sort, descending) => setOrder({ sort, descending })}
              selection={selection}
              onSelection={setSelection}
              activeName={file && parentPath(file) === path ? baseName(file) : undefined}
              onOpen={(entry) => {
                if (entry.type === 'dir') return go({ path: joinPath(path, entry.name), file: undefined });
                setOpened(entry);
                go({ file: joinPath(path, entry.name) });
              }}
              onUp={path !== '/' ? () => go({ path: parentPath(path), file: undefined }) : undefined}
              drag={drag}
              itemOf={item}
              downloadUrl={connection.downloadUrl ? (name) => connection.downloadUrl!(repository, snapshot.id, joinPath(path, name)) : undefined}
              onNotice={setNotice}
            />
          )}
        </section>
        {file && (
          <FileDetails
            key={file}
            repository={repository}
            snapshot={snapshot}
            path={file}
            entry={fileEntry}
            downloadUrl={connection.downloadUrl?.(repository, snapshot.id, file)}
            onClose={() => go({ file: undefined })}
            onOpenSnapshot={(id) => go({ snapshot: id })}
            onRestore={(items, time) => setRestoring({ items, time })}
          />
        )}
      </div>
      {restoring && <RestoreDialog items={restoring.items} snapshotTime={restoring.time} onClose={() => setRestoring(undefined)} />}
    </div>
  );
}

function FileDetails(props: {
  repository: string;
  snapshot: SnapshotInfo;
  path: string;
  entry?: BrowseEntry;
  downloadUrl?: string;
  onClose: () => void;
  onOpenSnapshot: (id: string) => void;
  onRestore: (items: SnapshotItem[], time: string) => void;
}) {
  const { repository, snapshot, path, entry } = props;
  const client = useApp((s) => s.connection.client);
  const [versions, setVersions] = useState<VersionEntry[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    client
      .call('snapshots.versions', { repository, path })
      .then(setVersions)
      .catch((err: Error) => setError(err.message));
  }, [client, repository, path]);
  // Newest version first, as people look for "the one before". Versions that differ only in their
  // attributes share a modification time: the later seen (later in the list) comes first.
  const ordered = useMemo(
    () =>
      (versions ?? [])
        .map((version, seen) => ({ version, seen }))
        .sort((a, b) => b.version.mtime.localeCompare(a.version.mtime) || b.seen - a.seen)
        .map(({ version }) => version),
    [versions],
  );
  return (
    <aside className="card details" aria-label="File details">
      <header className="row">
        <h2 title={path}>{baseName(path)}</h2>
        <span className="spacer" />
        <button type="button" className="modal-close" aria-label="Close details" onClick={props.onClose}>
          ×
        </button>
      </header>
      {entry ? (
        <>
          <p className="muted small">
            {formatBytes(entry.size ?? 0)} · modified {formatDateTime(entry.mtime)}
          </p>
          {entry.xattrs && <p className="muted small">Extended attributes: {describeXattrs(entry.xattrs)}</p>}
          <div className="row">
            <button type="button" className="button primary" onClick={() => props.onRestore([{ repository, snapshot: snapshot.id, path }], snapshot.time)}>
              Restore…
            </button>
            {props.downloadUrl && (
              <a className="button" href={props.downloadUrl} download={baseName(path)}>
                Download
              </a>
            )}
          </div>
          {entry.type === 'file' && <FilePreview repository={repository} snapshot={snapshot.id} path={path} size={entry.size ?? 0} />}
        </>
      ) : (
        <p className="muted">Not in this snapshot.</p>
      )}
      <h3>Versions</h3>
      {error && <ErrorMessage>{error}</ErrorMessage>}
      {!versions && !error && <Loading what="versions" />}
      {versions && (
        <ol className="versions" aria-label="Versions">
          {ordered.map((version) => {
            const inThis = version.snapshots.some((s) => s.id === snapshot.id);
            const newest = version.snapshots[version.snapshots.length - 1]!;
            return (
              <li key={version.content + version.mtime} className={inThis ? 'current' : ''} data-size={version.size}>
                <div>
                  <strong>{formatDateTimeSeconds(version.mtime)}</strong>
                  <span className="muted small">
                    {' '}
                    · {formatBytes(version.size)}
                    {version.attributesOnly && <span title="Same content; its permissions, owner, extended attributes, ACL or file flags changed"> · attributes changed</span>} · in{' '}
                    {version.snapshots.length} snapshot{version.snapshots.length === 1 ? '' : 's'}
                  </span>
                </div>
                <div className="row">
                  {!inThis && (
                    <button type="button" className="button small" onClick={() => props.onOpenSnapshot(newest.id)}>
                      Show
                    </button>
                  )}
                  <button type="button" className="button small" onClick={() => props.onRestore([{ repository, snapshot: newest.id, path }], newest.time)}>
                    Restore this version…
                  </button>
                </div>
              </li>
            );
          })}
        </ol>
      )}
    </aside>
  );
}

/** Attribute names for a person: the ACL attributes by what they are, the rest as named. */
function describeXattrs(names: readonly string[]): string {
  const acl = { 'system.posix_acl_access': 'access ACL', 'system.posix_acl_default': 'default ACL' } as Record<string, string>;
  return names.map((name) => acl[name] ?? name).join(', ');
}
