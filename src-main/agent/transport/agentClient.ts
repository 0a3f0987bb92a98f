import { connect, type Socket } from 'node:net';
import type { AgentEvent, ApiErrorBody, Method, Params, ResponseMessage, Result } from '../../../src-shared/api.js';
import { HindsightError } from '../../../src-shared/errors.js';
import { readLines, writeLine } from './lineChannel.js';

/** An error the agent answered with; `code` is the agent's. */
export class AgentCallError extends HindsightError {
  constructor(body: ApiErrorBody) {
    super(body.code, body.message);
  }
}

/** A typed client of the API contract over the agent's local socket. */
export class AgentClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private readonly listeners = new Set<(event: AgentEvent) => void>();
  /** Errors the agent sent without a request id (a line it could not read). */
  readonly unsolicited: ApiErrorBody[] = [];

  private constructor(private readonly socket: Socket) {
    readLines(
      socket,
      (value) => this.receive(value),
      () => undefined,
    );
    socket.on('close', () => {
      for (const { reject } of this.waiting.values()) reject(new HindsightError('E_AGENT_GONE', 'The agent closed the connection.'));
      this.waiting.clear();
    });
    socket.on('error', () => undefined);
  }

  static connect(path: string): Promise<AgentClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new AgentClient(socket)));
      socket.once('error', (err: NodeJS.ErrnoException) =>
        reject(new HindsightError('E_NO_AGENT', `No agent is running (${err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'nothing listens on ' + path : err.message}).`, { cause: err })),
      );
    });
  }

  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    return this.send({ type: 'request', id: this.nextId++, method, params }) as Promise<Result<M>>;
  }

  /** Forwards a request that is not typed here (a proxy such as `hindsight serve`); the agent checks it. */
  forward(method: string, params: unknown): Promise<unknown> {
    return this.send({ type: 'request', id: this.nextId++, method, params });
  }

  /** Sends any value as a message, for tests of what the agent does with bad input. */
  send(message: { id: number } & Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.set(message.id, { resolve, reject });
      writeLine(this.socket, message);
    });
  }

  /** Writes raw bytes, for tests of lines that are not JSON. */
  writeRaw(text: string): void {
    this.socket.write(text);
  }

  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private receive(value: unknown): void {
    const message = value as ResponseMessage | { type: 'event'; event: AgentEvent };
    if (message.type === 'event') {
      for (const listener of this.listeners) listener(message.event);
      return;
    }
    if (message.type !== 'response') return;
    const waiter = message.id === null ? undefined : this.waiting.get(message.id);
    if (!waiter) {
      if (!message.ok) this.unsolicited.push(message.error);
      return;
    }
    this.waiting.delete(message.id as number);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new AgentCallError(message.error));
  }
}
