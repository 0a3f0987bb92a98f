import type { EventMessage } from '../../src-shared/api.js';
import { Agent } from './agent.js';
import { releaseMemoryWhenIdle } from './idleMemory.js';
import { KeytarSecretStore, type SecretStore } from './secretStore.js';
import { dispatch } from './transport/dispatch.js';
import { AgentSocketServer } from './transport/socketServer.js';

export interface RunningAgent {
  readonly agent: Agent;
  readonly socketPath: string;
  stop(): Promise<void>;
}

/**
 * Runs the agent as a process of its own: listens on the local socket and,
 * when started by a parent with an IPC channel (`hindsight serve`, tests),
 * answers the parent's messages too; Electron's utility process attaches its
 * MessagePort instead.
 */
export async function runAgent(options: {
  dataDir: string;
  socketPath: string;
  secrets?: SecretStore;
  workers?: number;
  /** Another transport to serve (Electron's MessagePort); returns a function that detaches it. */
  attach?: (agent: Agent) => () => void;
}): Promise<RunningAgent> {
  const agent = new Agent({ dataDir: options.dataDir, secrets: options.secrets ?? new KeytarSecretStore(), ...(options.workers !== undefined ? { workers: options.workers } : {}) });
  const server = new AgentSocketServer(agent, options.socketPath);
  await server.listen();
  await agent.start();
  const stopReleasing = releaseMemoryWhenIdle(agent);
  let detachParent = options.attach?.(agent) ?? (() => {});
  if (process.send) {
    const onMessage = (raw: unknown) => void dispatch(agent, raw).then((response) => process.send?.(response));
    process.on('message', onMessage);
    const unsubscribe = agent.subscribe((event) => process.send?.({ type: 'event', event } satisfies EventMessage));
    const detachOther = detachParent;
    detachParent = () => {
      detachOther();
      process.off('message', onMessage);
      unsubscribe();
    };
  }
  let stopping: Promise<void> | undefined;
  return {
    agent,
    socketPath: options.socketPath,
    stop: () =>
      (stopping ??= (async () => {
        detachParent();
        stopReleasing();
        await server.close();
        await agent.stop();
      })()),
  };
}
