/**
 * The preload of the sandboxed window: exposes exactly HindsightClient as
 * `window.hindsight`. A sandboxed preload can require only a few Electron
 * modules, not our own files, so this file is self-contained: it is a .cts
 * file, which tsc emits as one CommonJS script (preload.cjs) whose only
 * runtime import is `electron`; the contract's types are erased. Nothing is
 * checked here: the main process checks the sender and every message.
 */
import electron = require('electron');
import type { AgentEvent, Method, Params, Result } from '../../src-shared/api.js';
import type { HindsightClient, SnapshotItem } from '../../src-shared/client.js';

type Envelope = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

const { contextBridge, ipcRenderer } = electron;

/**
 * contextBridge copies an Error's message only, so a failure crosses as a
 * plain object with `name`, `code` and `message`: the renderer can tell
 * E_WRONG_PASSWORD from E_INVALID_PARAMS, as it can with `hindsight serve`.
 */
async function unwrap(pending: Promise<Envelope>): Promise<unknown> {
  const envelope = await pending;
  if (envelope.ok) return envelope.result;
  throw { name: 'HindsightError', code: envelope.error.code, message: envelope.error.message };
}

const listeners = new Set<(event: AgentEvent) => void>();
ipcRenderer.on('hindsight:event', (_event, agentEvent: AgentEvent) => {
  for (const listener of listeners) listener(agentEvent);
});

const client: HindsightClient = {
  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    return unwrap(ipcRenderer.invoke('hindsight:call', method, params)) as Promise<Result<M>>;
  },
  onEvent(listener) {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  },
  desktop: {
    pickFolder: (options) => unwrap(ipcRenderer.invoke('hindsight:pickFolder', options)) as Promise<string | undefined>,
    prepareDrag: (item: SnapshotItem) => unwrap(ipcRenderer.invoke('hindsight:prepareDrag', item)) as Promise<void>,
    startDrag: (item: SnapshotItem) => ipcRenderer.send('hindsight:startDrag', item),
  },
};

contextBridge.exposeInMainWorld('hindsight', client);
