import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { JobRecord, Method, Params, Result } from '../../src-shared/api.js';
import { Agent } from '../../src-main/agent/agent.js';
import { SessionSecretStore } from '../../src-main/agent/secretStore.js';
import { invoke } from '../../src-main/agent/transport/dispatch.js';
import { ManualClock } from './manualClock.js';

export interface InProcessAgent {
  /** Calls the agent as a client would, through the API's dispatch (parameters checked). */
  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>>;
  /** A repository the agent created at DIR/repo, password "pw". */
  readonly repo: string;
  /** The plan's backup jobs, oldest first, once none is queued or running (fails after about 20 s). */
  finished(planId: string): Promise<JobRecord[]>;
}

/**
 * An Agent in this process on DIR/data (a manual clock at 2026-03-02 10:00 UTC, no watcher, one
 * worker thread, its cache in DIR/cache), with a new repository; stopped when the test ends.
 */
export async function startInProcessAgent(t: TestContext, dir: string): Promise<InProcessAgent> {
  process.env.HINDSIGHT_CACHE_DIR = join(dir, 'cache');
  const host = new Agent({ dataDir: join(dir, 'data'), secrets: new SessionSecretStore(), clock: new ManualClock(Date.parse('2026-03-02T10:00:00Z')), watch: false, workers: 1 });
  await host.start();
  const call = <M extends Method>(method: M, params: Params<M>) => invoke(host, method, params);
  t.after(async () => {
    await host.stop();
    delete process.env.HINDSIGHT_CACHE_DIR;
  });
  const repo = join(dir, 'repo');
  await call('repositories.create', { location: repo, password: 'pw', remember: false });
  const finished = async (planId: string): Promise<JobRecord[]> => {
    for (let i = 0; i < 1000; i++) {
      const jobs = (await call('jobs.list', { limit: 100 })).filter((j) => j.planId === planId && j.kind === 'backup');
      if (jobs.length > 0 && jobs.every((j) => j.result !== 'queued' && j.result !== 'running')) return jobs.reverse();
      await new Promise((r) => setTimeout(r, 20));
    }
    return assert.fail('the plan did not run');
  };
  return { call, repo, finished };
}
