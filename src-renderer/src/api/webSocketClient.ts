import type { AgentEvent, Method, Params, ResponseMessage, Result } from '../../../src-shared/api.js';
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
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private readonly outbox: string[] = [];
  private readonly listeners = new Set<(event: AgentEvent) => void>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private retryMs = 500;
  state: ConnectionState = 'connecting';

  constructor(private readonly url: string) {
    this.open();
  }

  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    const id = this.nextId++;
    const text = JSON.stringify({ type: 'request', id, method, params });
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      if (this.state === 'open' && this.socket) this.socket.send(text);
      else this.outbox.push(text);
    });
  }

  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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
    socket.onmessage = (message) => this.receive(JSON.parse(String(message.data)) as ResponseMessage | { type: 'event'; event: AgentEvent });
    socket.onclose = (event) => {
      // For whoever opens the developer tools: why the UI says it lost the connection.
      console.warn(`Hindsight: connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''}); reconnecting.`);
      for (const { reject } of this.waiting.values()) reject(new ApiError('E_DISCONNECTED', 'The connection to Hindsight was lost; reconnecting.'));
      this.waiting.clear();
      this.outbox.length = 0;
      this.setState('closed');
      setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  private receive(message: ResponseMessage | { type: 'event'; event: AgentEvent }): void {
    if (message.type === 'event') {
      for (const listener of this.listeners) listener(message.event);
      return;
    }
    const waiter = message.id === null ? undefined : this.waiting.get(message.id);
    if (!waiter) return;
    this.waiting.delete(message.id as number);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new ApiError(message.error.code, message.error.message));
  }
}
