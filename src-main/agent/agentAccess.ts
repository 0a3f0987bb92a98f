import * as v from 'valibot';
import { RequestMessageSchema, type AgentEvent, type Method, type Params, type ResponseMessage, type Result } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { Agent } from './agent.js';
import { runAgent } from './agentProcess.js';
import { agentSocketPath, appDataDir } from './appDataDir.js';
import { KeytarSecretStore } from './secretStore.js';
import { AgentCallError, AgentClient } from './transport/agentClient.js';
import { dispatch, errorBody, invoke } from './transport/dispatch.js';

/** The agent a surface talks to: the one already running, reached over its socket, or one this process started. */
export interface AgentAccess {
  /** True when talking to an agent that was already running. */
  readonly remote: boolean;
  /** "the running agent" or "an agent started by this server (socket …)", for a person. */
  readonly description: string;
  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>>;
  /** Answers one message from another client (a browser); the agent checks it against the contract. */
  handle(raw: unknown): Promise<ResponseMessage>;
  onEvent(listener: (event: AgentEvent) => void): () => void;
  /** Disconnects, or stops the agent this process started. */
  close(): Promise<void>;
}

/**
 * What to start when no agent runs. `serving`: a whole agent in this process, listening on the socket
 * with its schedule and watchers, for as long as this process lives (`hindsight serve`). `quiet`: one
 * that only answers this process's calls, on the same database, with no schedule, no watchers and no
 * socket (a CLI command).
 */
export type StartWhenNone = 'serving' | 'quiet';

/** Uses the running agent; when none answers on the socket, starts one as `start` says. */
export async function useOrStartAgent(start: StartWhenNone, options: { dataDir?: string; socketPath?: string } = {}): Promise<AgentAccess> {
  const socketPath = options.socketPath ?? agentSocketPath();
  try {
    return remoteAccess(await AgentClient.connect(socketPath));
  } catch (err) {
    if (!(err instanceof HindsightError) || err.code !== 'E_NO_AGENT') throw err;
  }
  const dataDir = options.dataDir ?? appDataDir();
  if (start === 'serving') {
    const running = await runAgent({ dataDir, socketPath });
    return localAccess(running.agent, `an agent started by this server (socket ${socketPath})`, () => running.stop());
  }
  const agent = new Agent({ dataDir, secrets: new KeytarSecretStore(), schedule: false, watch: false });
  await agent.start();
  return localAccess(agent, 'an agent in this process', () => agent.stop());
}

function localAccess(agent: Agent, description: string, stop: () => Promise<void>): AgentAccess {
  return {
    remote: false,
    description,
    call: (method, params) => invoke(agent, method, params),
    handle: (raw) => dispatch(agent, raw),
    onEvent: (listener) => agent.subscribe(listener),
    close: stop,
  };
}

function remoteAccess(client: AgentClient): AgentAccess {
  return {
    remote: true,
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
