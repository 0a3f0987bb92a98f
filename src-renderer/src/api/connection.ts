import type { HindsightClient } from '../../../src-shared/client.js';
import { WebSocketClient, type ConnectionState } from './webSocketClient.js';

declare global {
  interface Window {
    /** Set by the Electron preload; absent in a browser. */
    readonly hindsight?: HindsightClient;
  }
}

export interface Connection {
  readonly client: HindsightClient;
  /** Only a browser connection can drop; the desktop bridge is always there. */
  onConnection(listener: (state: ConnectionState) => void): () => void;
  /** Where a file of a snapshot can be downloaded (browser only). */
  downloadUrl?(repository: string, snapshot: string, path: string): string;
}

/** The desktop app's bridge when there is one, else `hindsight serve`'s WebSocket on this page's origin. */
export function connect(): Connection {
  if (window.hindsight) {
    const client = window.hindsight;
    return {
      client,
      onConnection: (listener) => {
        listener('open');
        return () => undefined;
      },
    };
  }
  const client = new WebSocketClient(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`);
  return {
    client,
    onConnection: (listener) => client.onConnection(listener),
    downloadUrl: (repository, snapshot, path) => `/download?${new URLSearchParams({ repository, snapshot, path }).toString()}`,
  };
}
