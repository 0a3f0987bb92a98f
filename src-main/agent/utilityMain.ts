import { fileURLToPath } from 'node:url';
import { useSqliteBinding } from '../engine/cacheDatabase.js';
import { errorBody } from './transport/dispatch.js';
import type { AgentNotice, AgentPort } from './transport/agentPort.js';
import { servePort } from './transport/portTransport.js';
import { runAgent, type RunningAgent } from './agentProcess.js';
import { agentSocketPath, appDataDir } from './appDataDir.js';
import { electronSqliteBinding } from './electronNative.js';
import { PortSecretStore } from './portSecretStore.js';
import { applyV8Flags } from './v8Flags.js';

/**
 * The agent's entry in the desktop app, started by the main process with
 * `utilityProcess.fork`. The first message on `process.parentPort` carries
 * the MessagePort the contract is served on; the local socket is served as
 * well, so `hindsight status|pause` and `hindsight serve` reach the app's agent.
 */

// The same V8 settings as the CLI (bin/hindsight.js); the engine's modules are loaded, but no backup has run yet.
applyV8Flags();

/** `process.parentPort` of an Electron utility process (typed here: the agent does not import electron). */
interface ParentPort {
  once(event: 'message', listener: (event: { data: unknown; ports: AgentPort[] }) => void): unknown;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!parentPort) {
  console.error('utilityMain.js is the desktop app agent; run it through the app, or run "hindsight agent" instead.');
  process.exit(2);
}

parentPort.once('message', ({ ports }) => {
  const port = ports[0];
  if (!port) {
    console.error('The desktop app started the agent without a port.');
    process.exit(2);
  }
  void start(port);
});

async function start(port: AgentPort): Promise<void> {
  const notify = (notice: AgentNotice) => port.postMessage(notice);
  const dataDir = appDataDir();
  const secrets = new PortSecretStore(port);
  // node_modules holds better-sqlite3 built for Node; this process runs on Electron's ABI.
  const electron = process.versions.electron;
  if (electron) {
    const binding = electronSqliteBinding(fileURLToPath(new URL('../../', import.meta.url)), electron);
    if ('missing' in binding) return fail({ code: 'E_NATIVE_MODULE', message: binding.missing });
    useSqliteBinding(binding.path);
  }
  let running: RunningAgent | undefined;
  const shutdown = async () => {
    // Running jobs stop at a safe point; their finished work is kept and resumes on the next start.
    await running?.stop();
    notify({ type: 'stopped' });
    port.close();
    process.exit(0);
  };
  try {
    running = await runAgent({ dataDir, socketPath: agentSocketPath(dataDir), secrets, attach: (agent) => servePort(agent, port, { secrets, onShutdown: () => void shutdown() }) });
  } catch (err) {
    return fail(errorBody(err));
  }
  notify({ type: 'ready' });

  function fail(error: { readonly code: string; readonly message: string }): void {
    notify({ type: 'fatal', error });
    // Exiting at once could drop the message, which is how the person learns why.
    setTimeout(() => process.exit(1), 200);
  }
}
