import type { EventMessage } from '../../../src-shared/api.js';
import type { Agent } from '../agent.js';
import type { PortSecretStore } from '../portSecretStore.js';
import type { AgentControl, AgentPort } from './agentPort.js';
import { dispatch } from './dispatch.js';

/**
 * Serves the API contract over a MessagePort (the desktop app's link to its
 * agent): every request goes through `dispatch`, every agent event is
 * posted, keychain replies go to the port's secret store, and `shutdown`
 * asks the agent to stop at a safe point. Returns a function that detaches.
 */
export function servePort(agent: Agent, port: AgentPort, options: { secrets: PortSecretStore; onShutdown: () => void }): () => void {
  let attached = true;
  port.on('message', ({ data }) => {
    if (!attached) return;
    const control = data as AgentControl | undefined;
    if (control?.type === 'secret.reply') return options.secrets.receive(control);
    if (control?.type === 'shutdown') return options.onShutdown();
    void dispatch(agent, data).then((response) => {
      if (attached) port.postMessage(response);
    });
  });
  const unsubscribe = agent.subscribe((event) => port.postMessage({ type: 'event', event } satisfies EventMessage));
  port.start();
  return () => {
    attached = false;
    unsubscribe();
  };
}
