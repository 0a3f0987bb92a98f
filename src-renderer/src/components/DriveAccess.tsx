import { useState } from 'react';
import type { MountInfo } from '../../../src-shared/api.js';
import { useClient } from '../store/appContext.js';
import { ErrorMessage } from './States.js';

export type DriveState =
  | { readonly kind: 'closed' }
  | { readonly kind: 'opening'; readonly snapshot: string }
  | { readonly kind: 'open'; readonly repository: string; readonly snapshot: string; readonly info: MountInfo }
  | { readonly kind: 'failed'; readonly snapshot: string; readonly message: string };

/** A snapshot opened as a drive (`mounts.open`): the agent starts its WebDAV server and opens the folder in the file manager. */
export function useDrive() {
  const client = useClient();
  const [state, setState] = useState<DriveState>({ kind: 'closed' });
  const open = (repository: string, snapshot: string) => {
    setState({ kind: 'opening', snapshot });
    client
      .call('mounts.open', { repository, snapshot })
      .then((info) => setState({ kind: 'open', repository, snapshot, info }))
      .catch((err: Error) => setState({ kind: 'failed', snapshot, message: err.message }));
  };
  const close = () => {
    if (state.kind === 'open') void client.call('mounts.close', { repository: state.repository }).catch(() => undefined);
    setState({ kind: 'closed' });
  };
  return { state, open, close };
}

export function OpenDriveButton({ state, snapshot, onOpen, small }: { state: DriveState; snapshot: string; onOpen: () => void; small?: boolean }) {
  const opening = state.kind === 'opening' && state.snapshot === snapshot;
  return (
    <button type="button" className={small ? 'button small' : 'button'} disabled={state.kind === 'opening'} aria-busy={opening} onClick={onOpen}>
      {opening ? 'Opening…' : 'Open in file manager'}
    </button>
  );
}

/** What happened: opened in the file manager, or the address and credentials to connect by hand. */
export function DrivePanel({ state, onClose }: { state: DriveState; onClose: () => void }) {
  if (state.kind === 'failed') return <ErrorMessage>The snapshot could not be opened as a drive: {state.message}</ErrorMessage>;
  if (state.kind !== 'open') return null;
  const { info } = state;
  return (
    <section className="card drive-panel" aria-label="Snapshot drive">
      <header className="row">
        <h2>{info.opened ? 'Opened in your file manager' : 'Connect to this snapshot by hand'}</h2>
        <span className="spacer" />
        <button type="button" className="button small" onClick={onClose}>
          Close drive
        </button>
      </header>
      <p className="muted">
        {info.opened
          ? 'If no window appeared, connect with the details below.'
          : `No file manager could be opened here${info.message ? ` (${info.message})` : ''}. Connect your file manager or any WebDAV client to:`}
      </p>
      <dl className="drive-details">
        <dt>Address</dt>
        <dd className="mono" data-testid="drive-address">
          {info.url}
        </dd>
        <dt>User</dt>
        <dd className="mono">{info.username}</dd>
        <dt>Password</dt>
        <dd className="mono" data-testid="drive-password">
          {info.password}
        </dd>
      </dl>
      <p className="muted small">Read-only. It closes after {info.idleMinutes} minutes without use.</p>
    </section>
  );
}
