import type { AgentEvent, ApiErrorBody, RequestMessage } from './api.js';

interface Waiter {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

/**
 * What every client of the contract keeps, whatever carries its messages (the CLI's socket, the app's
 * MessagePort, the browser's WebSocket): the calls waiting for their answer, by request id, and the
 * listeners of the agent's events. The transport sends what `request` returns and hands every message
 * it receives to `receive`; when the connection goes, `failAll` ends the calls still waiting.
 */
export class CallTable {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private readonly listeners = new Set<(event: AgentEvent) => void>();

  /**
   * @param toError the error a call rejects with when the agent answers with one (each surface has its own class).
   * @param onUnmatched an error answer that belongs to no waiting call (the agent could not read a message, so it has no id).
   */
  constructor(
    private readonly toError: (body: ApiErrorBody) => Error,
    private readonly onUnmatched: (body: ApiErrorBody) => void = () => undefined,
  ) {}

  /** A new request, numbered, and the promise of its answer. */
  request(method: string, params: unknown): { readonly message: RequestMessage; readonly answer: Promise<unknown> } {
    const message: RequestMessage = { type: 'request', id: this.nextId++, method, params };
    return { message, answer: this.answerTo(message.id) };
  }

  /** The answer to a message the caller numbered itself (tests that send malformed requests). */
  answerTo(id: number): Promise<unknown> {
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  /** Returns a function that stops listening. */
  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Settles the call an answer is for, or tells the listeners of an event; false for any other message (the transport's own). */
  receive(data: unknown): boolean {
    const message = data as { type?: unknown; id?: unknown; ok?: unknown; result?: unknown; error?: ApiErrorBody; event?: AgentEvent } | null;
    if (message?.type === 'event') {
      for (const listener of this.listeners) listener(message.event as AgentEvent);
      return true;
    }
    if (message?.type !== 'response') return false;
    const waiter = typeof message.id === 'number' ? this.waiting.get(message.id) : undefined;
    if (!waiter) {
      if (message.ok !== true && message.error) this.onUnmatched(message.error);
      return true;
    }
    this.waiting.delete(message.id as number);
    if (message.ok === true) waiter.resolve(message.result);
    else waiter.reject(this.toError(message.error as ApiErrorBody));
    return true;
  }

  /** The connection is gone: every call still waiting rejects with `error`. */
  failAll(error: Error): void {
    for (const { reject } of this.waiting.values()) reject(error);
    this.waiting.clear();
  }
}
