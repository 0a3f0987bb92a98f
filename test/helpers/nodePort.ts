import type { MessagePort } from 'node:worker_threads';
import type { AgentPort } from '../../src-main/agent/transport/agentPort.js';

/** A worker_threads MessagePort in the shape of Electron's MessagePortMain (messages arrive wrapped as `{ data }`). */
export function asAgentPort(port: MessagePort): AgentPort {
  return {
    postMessage: (message) => port.postMessage(message),
    on(event: 'message' | 'close', listener: (event: { data: unknown }) => void) {
      if (event === 'message') port.on('message', (data: unknown) => listener({ data }));
      else port.on('close', () => listener({ data: undefined }));
      return this;
    },
    start: () => port.start(),
    close: () => port.close(),
  };
}
