import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannelMain, utilityProcess, type UtilityProcess } from 'electron';
import type { AgentEvent, Method, Params, Result } from '../../src-shared/api.js';
import type { HindsightClient } from '../../src-shared/client.js';
import { HindsightError } from '../../src-shared/errors.js';
import type { SecretStore } from '../agent/secretStore.js';
import { ENGINE_EXEC_ARGV } from '../agent/v8Flags.js';
import { AgentConnection } from './agentConnection.js';
import { agentEnv } from './agentEnv.js';
import { RestartBackoff } from './restartBackoff.js';
import type { AgentLink } from './trayModel.js';

export interface AgentHostOptions {
  /** build/src-main/agent/utilityMain.js */
  readonly entry: string;
  readonly keychain: SecretStore;
  /** The agent's stdout and stderr are appended to agent.log here. */
  readonly logDir: string;
  /** Every change of the link, with a sentence for the person when something went wrong. */
  readonly onLink: (link: AgentLink, message?: string) => void;
}

/**
 * Runs the agent in Electron's utility process and keeps it running: a crash
 * is followed by a restart after a growing pause (RestartBackoff) and the
 * person is told; `stop` asks for a safe stop and kills an agent that does
 * not exit in time.
 */
export class AgentHost implements Pick<HindsightClient, 'call' | 'onEvent'> {
  private readonly listeners = new Set<(event: AgentEvent) => void>();
  private child: UtilityProcess | undefined;
  private current: AgentConnection | undefined;
  private readonly backoff = new RestartBackoff();
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly options: AgentHostOptions) {}

  /** A call to the agent running now; fails with E_AGENT_GONE while it restarts. */
  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    return this.request(method, params) as Promise<Result<M>>;
  }

  request(method: Method, params: unknown): Promise<unknown> {
    if (!this.current) return Promise.reject(new HindsightError('E_AGENT_GONE', 'The backup agent is not running.'));
    return this.current.request(method, params);
  }

  /** Events of whichever agent process is running: listeners survive restarts. */
  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    mkdirSync(this.options.logDir, { recursive: true });
    const child = utilityProcess.fork(this.options.entry, [], { serviceName: 'Hindsight agent', env: agentEnv(process.env), stdio: 'pipe', execArgv: [...ENGINE_EXEC_ARGV] });
    this.child = child;
    const log = createWriteStream(join(this.options.logDir, 'agent.log'), { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const { port1, port2 } = new MessageChannelMain();
    let gaveUp = false;
    const connection = new AgentConnection(port1, this.options.keychain, (notice) => {
      if (notice.type === 'ready') {
        this.backoff.started(Date.now());
        this.options.onLink('up');
      }
      // Another agent (hindsight agent) owns this data folder, or the database module was not built for
      // this Electron: restarting would fail the same way.
      if (notice.type === 'fatal' && notice.error.code === 'E_AGENT_RUNNING') {
        gaveUp = true;
        this.options.onLink('failed', `${notice.error.message} Stop it, then reopen Hindsight.`);
      }
      if (notice.type === 'fatal' && notice.error.code === 'E_NATIVE_MODULE') {
        gaveUp = true;
        this.options.onLink('failed', notice.error.message);
      }
    });
    this.current = connection;
    connection.onEvent((event) => {
      for (const listener of this.listeners) listener(event);
    });
    child.postMessage({ type: 'connect' }, [port2]);
    child.once('exit', (code) => {
      connection.close();
      if (this.current === connection) this.current = undefined;
      log.end();
      if (this.child === child) this.child = undefined;
      if (this.stopping || gaveUp) return;
      const next = this.backoff.crashed(Date.now());
      if ('giveUp' in next) {
        this.options.onLink('failed', `The backup agent stopped ${next.crashes} times in a row (exit code ${code}); see ${join(this.options.logDir, 'agent.log')}.`);
        return;
      }
      this.options.onLink('restarting', `The backup agent stopped unexpectedly (exit code ${code}); restarting it in ${Math.round(next.restartInMs / 1000)} s.`);
      this.restartTimer = setTimeout(() => this.start(), next.restartInMs);
    });
  }

  /** A safe stop: running jobs stop where they can resume; after `timeoutMs` the agent is killed. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.current?.shutdown();
    const timer = setTimeout(() => child.kill(), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
