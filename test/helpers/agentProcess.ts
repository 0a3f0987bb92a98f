import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AgentEvent, JobRecord } from '../../src-shared/api.js';
import type { Progress } from '../../src-shared/progress.js';
import { AgentClient } from '../../src-main/agent/transport/agentClient.js';
import { tempDir } from './tempDir.js';

export const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

/** The environment of a child Hindsight: this process's, without HINDSIGHT_* or a D-Bus session (so no real keychain is touched). */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_') && k !== 'DBUS_SESSION_BUS_ADDRESS'));
  return { ...clean, ...extra };
}

export interface AgentUnderTest {
  readonly client: AgentClient;
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly cacheDir: string;
  readonly env: Record<string, string>;
  readonly events: AgentEvent[];
  /** Resolves with the job's record when the agent reports it finished. */
  finished(jobId: string): Promise<JobRecord>;
  stop(): Promise<void>;
}

/** Starts `hindsight agent` as a real process on a throwaway data folder and connects to its socket. */
export async function startAgent(t: TestContext, options: { env?: Record<string, string>; dataDir?: string } = {}): Promise<AgentUnderTest> {
  const base = await tempDir(t, 'hindsight-agent-');
  const dataDir = options.dataDir ?? join(base, 'data');
  const cacheDir = join(base, 'cache');
  const env = { HINDSIGHT_DATA_DIR: dataDir, HINDSIGHT_CACHE_DIR: cacheDir, ...options.env };
  const child = spawn(process.execPath, [bin, 'agent'], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('Hindsight agent running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before it was ready:\n${output}`)));
  });
  const client = await AgentClient.connect(join(dataDir, 'agent.sock'));
  const events: AgentEvent[] = [];
  const waiters = new Map<string, (job: JobRecord) => void>();
  client.onEvent((event) => {
    events.push(event);
    if (event.type === 'job.finished') waiters.get(event.job.id)?.(event.job);
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client.close();
    // A test may have killed it already (a crash, a shutdown without warning).
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      // An agent that does not stop within reason is a failure of its own, not a reason to hang the suite.
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      assert.equal(child.signalCode, null, 'the agent stopped by itself on SIGTERM');
    }
  };
  t.after(stop);
  return {
    client,
    child,
    dataDir,
    cacheDir,
    env,
    events,
    finished(jobId) {
      const done = events.find((e): e is Extract<AgentEvent, { type: 'job.finished' }> => e.type === 'job.finished' && e.job.id === jobId);
      if (done) return Promise.resolve(done.job);
      return new Promise((resolve) => waiters.set(jobId, resolve));
    },
    stop,
  };
}

/** Resolves at the job's first progress report that `enough` accepts; rejects if the job ends first or nothing comes for two minutes. */
export function progressed(agent: AgentUnderTest, jobId: string, enough: (progress: Progress) => boolean): Promise<Progress> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 120_000;
    const poll = setInterval(() => {
      const event = agent.events.find((e): e is Extract<AgentEvent, { type: 'job.progress' }> => e.type === 'job.progress' && e.jobId === jobId && enough(e.progress));
      if (event) {
        clearInterval(poll);
        resolve(event.progress);
      } else if (agent.events.some((e) => e.type === 'job.finished' && e.job.id === jobId) || Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`job ${jobId} ended or stalled before it reported the progress waited for`));
      }
    }, 2);
  });
}
