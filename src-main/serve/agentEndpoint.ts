import * as v from 'valibot';
import { RequestMessageSchema, type AgentEvent, type Method, type Params, type ResponseMessage, type Result } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { runAgent } from '../agent/agentProcess.js';
import { agentSocketPath, appDataDir } from '../agent/appDataDir.js';
import { AgentCallError, AgentClient } from '../agent/transport/agentClient.js';
import { dispatch, errorBody, invoke } from '../agent/transport/dispatch.js';

/** The agent as `hindsight serve` reaches it: the one already running, or one it starts in its own process. */
export interface AgentEndpoint {
  /** "the running agent" or "an agent started by this server". */
  readonly description: string;
  /** Answers one message from a browser; the agent checks it against the contract. */
  handle(raw: unknown): Promise<ResponseMessage>;
  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>>;
  onEvent(listener: (event: AgentEvent) => void): () => void;
  close(): Promise<void>;
}

export async function connectAgentEndpoint(options: { dataDir?: string; socketPath?: string } = {}): Promise<AgentEndpoint> {
  const socketPath = options.socketPath ?? agentSocketPath();
  try {
    return remoteEndpoint(await AgentClient.connect(socketPath));
  } catch (err) {
    if (!(err instanceof HindsightError) || err.code !== 'E_NO_AGENT') throw err;
  }
  const running = await runAgent({ dataDir: options.dataDir ?? appDataDir(), socketPath });
  return {
    description: `an agent started by this server (socket ${socketPath})`,
    handle: (raw) => dispatch(running.agent, raw),
    call: (method, params) => invoke(running.agent, method, params),
    onEvent: (listener) => running.agent.subscribe(listener),
    close: () => running.stop(),
  };
}

function remoteEndpoint(client: AgentClient): AgentEndpoint {
  return {
    description: 'the running agent',
    async handle(raw) {
      const message = v.safeParse(RequestMessageSchema, raw);
      if (!message.success) return { type: 'response', id: null, ok: false, error: { code: 'E_BAD_MESSAGE', message: `Not a request this agent understands: ${v.summarize(message.issues)}` } };
      const { id, method, params } = message.output;
      try {
        // The browser's ids are its own: the socket carries many browsers' requests under the client's ids.
        const result = await client.forward(method, params);
        return { type: 'response', id, ok: true, result };
      } catch (err) {
        return { type: 'response', id, ok: false, error: err instanceof AgentCallError ? { code: err.code, message: err.message } : errorBody(err) };
      }
    },
    call: (method, params) => client.call(method, params),
    onEvent: (listener) => client.onEvent(listener),
    close: async () => client.close(),
  };
}
