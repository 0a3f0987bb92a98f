import { AGENT_PROCESS_ENV } from '../agent/agentProcessEnv.js';

/**
 * The environment of the agent's utility process: this process's minus what
 * would change how Electron or Node runs the child (ELECTRON_RUN_AS_NODE
 * would turn it into a plain Node, NODE_OPTIONS could preload code). The
 * agent keeps what it needs: HOME, HINDSIGHT_*, SSH_AUTH_SOCK, AWS_*, D-Bus;
 * and gets AGENT_PROCESS_ENV where the environment does not say otherwise.
 */
export function agentEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const clean: Record<string, string> = { ...AGENT_PROCESS_ENV };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key.startsWith('ELECTRON_') || key === 'NODE_OPTIONS' || key === 'NODE_PATH') continue;
    clean[key] = value;
  }
  return clean;
}
