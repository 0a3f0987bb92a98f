import type { AgentEvent, Method, Params, Result } from './api.js';

/**
 * What the renderer talks to: the API contract plus its events. The Electron
 * preload exposes one as `window.hindsight`; in a browser, `hindsight serve`'s
 * WebSocket client implements the same interface. The renderer cannot tell
 * which one it has, except through `desktop`.
 */
export interface HindsightClient {
  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>>;
  /** Returns a function that stops listening. */
  onEvent(listener: (event: AgentEvent) => void): () => void;
  /** Present only in the desktop app. */
  readonly desktop?: DesktopBridge;
}

/** A file or folder in a snapshot, as the snapshot browser names it. */
export interface SnapshotItem {
  readonly repository: string;
  readonly snapshot: string;
  /** Absolute path inside the snapshot, e.g. "/home/ann/notes.txt". */
  readonly path: string;
}

/** What only the desktop app can do: native dialogs and dragging a restored file out of the window. */
export interface DesktopBridge {
  /** Native folder picker; undefined when the person cancelled. */
  pickFolder(options?: { readonly title?: string }): Promise<string | undefined>;
  /**
   * Restores `item` to a temporary folder (resolving once it is there), so a
   * drag that starts afterwards can hand the file to the OS at once.
   */
  prepareDrag(item: SnapshotItem): Promise<void>;
  /** Called from a row's dragstart: starts the OS drag of the prepared item. */
  startDrag(item: SnapshotItem): void;
}
