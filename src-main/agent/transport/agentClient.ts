import { connect, type Socket } from 'node:net';
import type { AgentEvent, ApiErrorBody, Method, Params, Result } from '../../../src-shared/api.js';
import { CallTable } from '../../../src-shared/callTable.js';
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
  /** Errors the agent sent without a request id (a line it could not read). */
  readonly unsolicited: ApiErrorBody[] = [];
  private readonly calls = new CallTable(
    (body) => new AgentCallError(body),
    (body) => this.unsolicited.push(body),
  );

  private constructor(private readonly socket: Socket) {
    readLines(
      socket,
      (value) => this.calls.receive(value),
      () => undefined,
    );
    socket.on('close', () => this.calls.failAll(new HindsightError('E_AGENT_GONE', 'The agent closed the connection.')));
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
    return this.forward(method, params) as Promise<Result<M>>;
  }

  /** Forwards a request that is not typed here (a proxy such as `hindsight serve`); the agent checks it. */
  forward(method: string, params: unknown): Promise<unknown> {
    const { message, answer } = this.calls.request(method, params);
    writeLine(this.socket, message);
    return answer;
  }

  /** Sends any value as a message, for tests of what the agent does with bad input. */
  send(message: { id: number } & Record<string, unknown>): Promise<unknown> {
    const answer = this.calls.answerTo(message.id);
    writeLine(this.socket, message);
    return answer;
  }

  /** Writes raw bytes, for tests of lines that are not JSON. */
  writeRaw(text: string): void {
    this.socket.write(text);
  }

  onEvent(listener: (event: AgentEvent) => void): () => void {
    return this.calls.onEvent(listener);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}
