import { useCallback, useEffect, useState } from 'react';
import type { HostFolder } from '../../../src-shared/api.js';
import { useClient } from '../store/appContext.js';
import { Modal } from './Modal.js';
import { ErrorMessage, Loading } from './States.js';

/**
 * A folder path: typed, or chosen with the desktop's native dialog, or (in a
 * browser) with a folder browser of the machine the agent runs on. A typed
 * sftp://USER@HOST[:PORT][/PATH] is browsed on that machine, through the agent.
 */
export function FolderChooser({ value, onChange, label, id, placeholder }: { value: string; onChange: (path: string) => void; label: string; id: string; placeholder?: string }) {
  const client = useClient();
  const [browsing, setBrowsing] = useState(false);
  const browse = async () => {
    if (client.desktop && !isRemote(value)) {
      const chosen = await client.desktop.pickFolder({ title: label });
      if (chosen) onChange(chosen);
    } else setBrowsing(true);
  };
  return (
    <div className="folder-chooser">
      <input id={id} type="text" value={value} placeholder={placeholder ?? '/path/to/folder'} onChange={(e) => onChange(e.target.value)} spellCheck={false} aria-label={label} />
      <button type="button" className="button" onClick={() => void browse()}>
        Browse…
      </button>
      {browsing && (
        <FolderBrowser
          title={label}
          start={value}
          onCancel={() => setBrowsing(false)}
          onChoose={(path) => {
            onChange(path);
            setBrowsing(false);
          }}
        />
      )}
    </div>
  );
}

function FolderBrowser({ title, start, onChoose, onCancel }: { title: string; start: string; onChoose: (path: string) => void; onCancel: () => void }) {
  const client = useClient();
  const [folder, setFolder] = useState<HostFolder>();
  const [error, setError] = useState<string>();
  // Another machine's folders: listed by the agent over SFTP; without a path, the SSH user's home folder.
  const machine = isRemote(start) ? (/^sftp:\/\/[^/]+/i.exec(start)?.[0] ?? start) : undefined;
  const open = useCallback(
    (path?: string) => {
      setError(undefined);
      (machine !== undefined ? client.call('host.listRemoteFolder', { location: path ?? machine }) : client.call('host.listFolder', path ? { path } : {}))
        .then(setFolder)
        .catch((err: Error) => {
          // A typed path that does not exist yet: start from the home folder instead of an empty dialog.
          if (path && !folder) open();
          else setError(err.message);
        });
    },
    [client, folder, machine],
  );
  useEffect(() => open(machine !== undefined || start.startsWith('/') ? start : undefined), []);
  return (
    <Modal
      title={title}
      onClose={onCancel}
      footer={
        <>
          <span className="muted path-preview">{folder?.path}</span>
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="button" className="button primary" disabled={!folder} onClick={() => folder && onChoose(folder.path)}>
            Choose this folder
          </button>
        </>
      }
    >
      {error && <ErrorMessage>{error}</ErrorMessage>}
      {!folder && !error && <Loading what="folders" />}
      {folder && (
        <ul className="folder-list" aria-label="Folders">
          {folder.parent && (
            <li>
              <button type="button" className="folder-row" onClick={() => open(folder.parent)}>
                <span className="icon icon-up" aria-hidden="true" /> Up to {folder.parent}
              </button>
            </li>
          )}
          {folder.entries.map((entry) => (
            <li key={entry.name}>
              {entry.type === 'dir' ? (
                <button type="button" className="folder-row" onClick={() => open(`${folder.path.replace(/\/$/, '')}/${entry.name}`)}>
                  <span className="icon icon-folder" aria-hidden="true" /> {entry.name}
                </button>
              ) : (
                <span className="folder-row disabled">
                  <span className={`icon icon-${entry.type === 'symlink' ? 'link' : 'file'}`} aria-hidden="true" /> {entry.name}
                </span>
              )}
            </li>
          ))}
          {folder.entries.length === 0 && <li className="muted folder-row disabled">This folder is empty.</li>}
        </ul>
      )}
    </Modal>
  );
}

/** Whether a typed folder is on another machine. */
export function isRemote(path: string): boolean {
  return /^sftp:\/\//i.test(path.trim());
}
