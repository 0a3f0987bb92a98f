import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the agent keeps what cannot be rebuilt from a repository (plans, job
 * history, settings): $HINDSIGHT_DATA_DIR, else the platform's folder for
 * application data. Never secrets: passwords live in the OS keychain.
 */
export function appDataDir(): string {
  if (process.env.HINDSIGHT_DATA_DIR) return process.env.HINDSIGHT_DATA_DIR;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Hindsight');
  if (process.platform === 'win32') return join(process.env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Hindsight');
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'hindsight');
}

/** The local socket a running agent listens on (a named pipe on Windows). */
export function agentSocketPath(dataDir = appDataDir()): string {
  if (process.platform === 'win32') return `\\\\.\\pipe\\hindsight-${Buffer.from(dataDir).toString('hex').slice(-32)}`;
  return join(dataDir, 'agent.sock');
}
