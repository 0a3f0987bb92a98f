/**
 * The part of a MessagePort the agent uses. It is the shape of Electron's
 * MessagePortMain (what a utility process receives from the main process),
 * written out here because the agent must not import electron; tests adapt a
 * worker_threads MessagePort to it.
 */
export interface AgentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  start(): void;
  close(): void;
}

/** The agent asks the desktop app's main process, which owns the keychain. */
export interface SecretRequest {
  readonly type: 'secret';
  readonly id: number;
  readonly op: 'get' | 'set' | 'delete';
  readonly account: string;
  /** Only with `set`. */
  readonly secret?: string;
}

export type SecretReply =
  | { readonly type: 'secret.reply'; readonly id: number; readonly ok: true; readonly value?: string }
  | { readonly type: 'secret.reply'; readonly id: number; readonly ok: false; readonly message: string };

/** Main process → agent, besides requests of the contract. */
export type AgentControl = SecretReply | { readonly type: 'shutdown' };

/** Agent → main process, besides responses and events of the contract. */
export type AgentNotice =
  | SecretRequest
  | { readonly type: 'ready' }
  /** The agent could not start (another agent on the same data folder, a broken database…); it exits after this. */
  | { readonly type: 'fatal'; readonly error: { readonly code: string; readonly message: string } }
  | { readonly type: 'stopped' };
