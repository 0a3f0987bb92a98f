import type { AgentEvent, Method, Params, Result } from '../../../src-shared/api.js';
import { CallTable } from '../../../src-shared/callTable.js';
import type { HindsightClient } from '../../../src-shared/client.js';

export type ConnectionState = 'connecting' | 'open' | 'closed';

/** An error the agent answered with, or a lost connection; `code` is the agent's. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The API contract over `hindsight serve`'s WebSocket. Reconnects with a
 * growing wait when the server goes away; calls made while disconnected wait
 * for the connection (up to a limit) instead of failing at once.
 */
export class WebSocketClient implements HindsightClient {
  private socket: WebSocket | undefined;
  private readonly calls = new CallTable((body) => new ApiError(body.code, body.message));
  private readonly outbox: string[] = [];
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private retryMs = 500;
  state: ConnectionState = 'connecting';

  constructor(private readonly url: string) {
    this.open();
  }

  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    const { message, answer } = this.calls.request(method, params);
    const text = JSON.stringify(message);
    if (this.state === 'open' && this.socket) this.socket.send(text);
    else this.outbox.push(text);
    return answer as Promise<Result<M>>;
  }

  onEvent(listener: (event: AgentEvent) => void): () => void {
    return this.calls.onEvent(listener);
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private open(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.setState('connecting');
    socket.onopen = () => {
      this.retryMs = 500;
      this.setState('open');
      for (const text of this.outbox.splice(0)) socket.send(text);
    };
    socket.onmessage = (message) => this.calls.receive(JSON.parse(String(message.data)));
    socket.onclose = (event) => {
      // For whoever opens the developer tools: why the UI says it lost the connection.
      console.warn(`Hindsight: connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''}); reconnecting.`);
      this.calls.failAll(new ApiError('E_DISCONNECTED', 'The connection to Hindsight was lost; reconnecting.'));
      this.outbox.length = 0;
      this.setState('closed');
      setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }
}
