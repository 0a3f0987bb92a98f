import type { AgentEvent, Method, Params, Result } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { Agent } from '../agent/agent.js';
import { agentSocketPath, appDataDir } from '../agent/appDataDir.js';
import { KeytarSecretStore } from '../agent/secretStore.js';
import { AgentClient } from '../agent/transport/agentClient.js';
import { invoke } from '../agent/transport/dispatch.js';

/** The API as the CLI uses it: a running agent over its socket, or an agent in this process when none runs. */
export interface AgentConnection {
  /** True when talking to a running agent. */
  readonly remote: boolean;
  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>>;
  onEvent(listener: (event: AgentEvent) => void): () => void;
  close(): Promise<void>;
}

export async function connectToAgent(): Promise<AgentConnection> {
  try {
    const client = await AgentClient.connect(agentSocketPath());
    return { remote: true, call: (m, p) => client.call(m, p), onEvent: (l) => client.onEvent(l), close: async () => client.close() };
  } catch (err) {
    if (!(err instanceof HindsightError) || err.code !== 'E_NO_AGENT') throw err;
  }
  // No agent: act directly on the same database, without a schedule or watchers of our own.
  const agent = new Agent({ dataDir: appDataDir(), secrets: new KeytarSecretStore(), schedule: false, watch: false });
  await agent.start();
  return {
    remote: false,
    call: (method, params) => invoke(agent, method, params),
    onEvent: (listener) => agent.subscribe(listener),
    close: () => agent.stop(),
  };
}

export async function withAgent<T>(work: (connection: AgentConnection) => Promise<T>): Promise<T> {
  const connection = await connectToAgent();
  try {
    return await work(connection);
  } finally {
    await connection.close();
  }
}
