import { useEffect, useMemo, useState, type DragEvent } from 'react';
import type { BrowseEntry, Results, SnapshotInfo, VersionEntry } from '../../../src-shared/api.js';
import type { SnapshotItem } from '../../../src-shared/client.js';
import { FilePreview } from '../components/FilePreview.js';
import { RepositoryPicker, useChosenRepository, useSnapshots } from '../components/RepositoryPicker.js';
import { RestoreDialog } from '../components/RestoreDialog.js';
import { EmptyState, ErrorMessage, Loading } from '../components/States.js';
import { baseName, formatBytes, formatDateTime, formatDateTimeSeconds, joinPath, parentPath } from '../format.js';
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
  const [entries, setEntries] = useState<BrowseEntry[]>();
  const [error, setError] = useState<string>();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [restoring, setRestoring] = useState<{ items: SnapshotItem[]; time?: string }>();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<Results['snapshots.search']>();

  const go = (params: Record<string, string | undefined>) =>
    navigate('browse', Object.fromEntries(Object.entries({ repo: repository, snapshot: snapshot?.id, path, file, ...params }).filter((e): e is [string, string] => e[1] !== undefined)));

  useEffect(() => {
    if (!repository || !snapshot) return;
    let cancelled = false;
    setEntries(undefined);
    setError(undefined);
    setSelected(new Set());
    client
      .call('snapshots.browse', { repository, snapshot: snapshot.id, path })
      .then((list) => !cancelled && setEntries(list))
      .catch((err: Error) => !cancelled && setError(err.message));
    return () => {
      cancelled = true;
    };
  }, [client, repository, snapshot, path]);

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
  const fileEntry = file ? entries?.find((e) => joinPath(path, e.name) === file) : undefined;

  const onDragStart = (e: DragEvent, entry: BrowseEntry) => {
    const target = item(entry.name);
    if (client.desktop) {
      e.preventDefault();
      client.desktop.startDrag(target);
    } else if (connection.downloadUrl && entry.type === 'file') {
      const url = new URL(connection.downloadUrl(repository, snapshot.id, target.path), location.href).toString();
      e.dataTransfer.setData('DownloadURL', `application/octet-stream:${entry.name}:${url}`);
      e.dataTransfer.setData('text/uri-list', url);
    }
  };

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
            <span className="muted small">{selected.size > 0 ? `${selected.size} selected` : 'Select files and folders to restore, or drag one out.'}</span>
            <span className="spacer" />
            <button type="button" className="button primary" disabled={selected.size === 0} onClick={() => setRestoring({ items: [...selected].map(item), time: snapshot.time })}>
              Restore{selected.size > 0 ? ` ${selected.size}` : ''}…
            </button>
          </div>
          {error && <ErrorMessage>{error}</ErrorMessage>}
          {!entries && !error && <Loading what="folder" />}
          {entries && (
            <table className="table files" aria-label="Files">
              <thead>
                <tr>
                  <th className="check">
                    <input
                      type="checkbox"
                      aria-label="Select all"
                      checked={entries.length > 0 && selected.size === entries.length}
                      onChange={(e) => setSelected(e.target.checked ? new Set(entries.map((x) => x.name)) : new Set())}
                    />
                  </th>
                  <th>Name</th>
                  <th className="right">Size</th>
                  <th>Modified</th>
                </tr>
              </thead>
              <tbody>
                {path !== '/' && (
                  <tr className="file-row">
                    <td />
                    <td colSpan={3}>
                      <button type="button" className="name-button" onClick={() => go({ path: parentPath(path), file: undefined })}>
                        <span className="icon icon-up" aria-hidden="true" />
                        ..
                      </button>
                    </td>
                  </tr>
                )}
                {entries.length === 0 && (
                  <tr>
                    <td colSpan={4} className="muted center">
                      This folder was empty.
                    </td>
                  </tr>
                )}
                {entries.map((entry) => {
                  const full = joinPath(path, entry.name);
                  return (
                    <tr
                      key={entry.name}
                      className={`file-row${file === full ? ' active' : ''}`}
                      draggable
                      onPointerDown={() => client.desktop && void client.desktop.prepareDrag(item(entry.name)).catch(() => undefined)}
                      onDragStart={(e) => onDragStart(e, entry)}
                      data-name={entry.name}
                    >
                      <td className="check">
                        <input
                          type="checkbox"
                          aria-label={`Select ${entry.name}`}
                          checked={selected.has(entry.name)}
                          onChange={(e) => {
                            const next = new Set(selected);
                            if (e.target.checked) next.add(entry.name);
                            else next.delete(entry.name);
                            setSelected(next);
                          }}
                        />
                      </td>
                      <td>
                        <button type="button" className="name-button" onClick={() => (entry.type === 'dir' ? go({ path: full, file: undefined }) : go({ file: full }))}>
                          <span className={`icon icon-${entry.type === 'dir' ? 'folder' : entry.type === 'symlink' ? 'link' : 'file'}`} aria-hidden="true" />
                          {entry.name}
                          {entry.linkTarget && <span className="muted small"> → {entry.linkTarget}</span>}
                        </button>
                      </td>
                      <td className="right">{entry.size !== undefined ? formatBytes(entry.size) : ''}</td>
                      <td>{formatDateTime(entry.mtime)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
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
  // Newest version first, as people look for "the one before".
  const ordered = useMemo(() => [...(versions ?? [])].sort((a, b) => b.mtime.localeCompare(a.mtime)), [versions]);
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
                    · {formatBytes(version.size)} · in {version.snapshots.length} snapshot{version.snapshots.length === 1 ? '' : 's'}
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
