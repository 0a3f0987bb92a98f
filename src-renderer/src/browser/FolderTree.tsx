import { useEffect, useState } from 'react';
import type { HindsightClient } from '../../../src-shared/client.js';
import { joinPath } from '../format.js';

interface TreeProps {
  readonly client: HindsightClient;
  readonly repository: string;
  readonly snapshot: string;
  /** The folder shown in the list: its ancestors start expanded. */
  readonly current: string;
  readonly onOpen: (path: string) => void;
}

/** The snapshot's folders as a tree beside the list, each expanded in place and read when first expanded. */
export function FolderTree(props: TreeProps) {
  return (
    <nav className="card folder-tree" aria-label="Folders">
      <ul role="tree" aria-label="Folder tree">
        <FolderNode {...props} path="/" name="/" depth={0} />
      </ul>
    </nav>
  );
}

function FolderNode(props: TreeProps & { readonly path: string; readonly name: string; readonly depth: number }) {
  const { client, repository, snapshot, current, path } = props;
  const onCurrentPath = current === path || current.startsWith(path === '/' ? '/' : `${path}/`);
  const [open, setOpen] = useState(onCurrentPath);
  const [children, setChildren] = useState<string[]>();
  const [error, setError] = useState<string>();

  // Navigating elsewhere (a breadcrumb, a row) opens the way to the new folder.
  useEffect(() => {
    if (onCurrentPath) setOpen(true);
  }, [onCurrentPath]);

  useEffect(() => {
    if (!open || children) return;
    let cancelled = false;
    client
      .call('snapshots.browsePage', { repository, snapshot, path, foldersOnly: true, limit: 2000 })
      .then((page) => !cancelled && setChildren(page.entries.map((e) => e.name)))
      .catch((err: Error) => !cancelled && setError(err.message));
    return () => {
      cancelled = true;
    };
  }, [client, repository, snapshot, path, open, children]);

  const leaf = children !== undefined && children.length === 0;
  return (
    <li role="treeitem" aria-expanded={leaf ? undefined : open} aria-selected={current === path} aria-label={props.name}>
      <div className={`tree-row${current === path ? ' current' : ''}`} style={{ paddingLeft: `${props.depth * 14}px` }}>
        <button type="button" className="tree-toggle" aria-label={open ? `Collapse ${props.name}` : `Expand ${props.name}`} disabled={leaf} onClick={() => setOpen(!open)}>
          {leaf ? '' : open ? '▾' : '▸'}
        </button>
        <button type="button" className="tree-name" onClick={() => props.onOpen(path)}>
          <span className="icon icon-folder" aria-hidden="true" />
          {props.name}
        </button>
      </div>
      {error && <div className="muted small">{error}</div>}
      {open && children && children.length > 0 && (
        <ul role="group">
          {children.map((child) => (
            <FolderNode key={child} {...props} path={joinPath(path, child)} name={child} depth={props.depth + 1} />
          ))}
        </ul>
      )}
    </li>
  );
}
