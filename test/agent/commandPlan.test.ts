import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { JobRecord, Method, Params } from '../../src-shared/api.js';
import { Agent } from '../../src-main/agent/agent.js';
import { SessionSecretStore } from '../../src-main/agent/secretStore.js';
import { invoke } from '../../src-main/agent/transport/dispatch.js';
import { ManualClock } from '../helpers/manualClock.js';
import { tempDir } from '../helpers/tempDir.js';

async function agentWithRepository(t: TestContext) {
  const dir = await tempDir(t);
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
  return { dir, call, repo, finished };
}

test('a plan whose source is a command: the agent runs it without a shell and stores its output; a failing run saves nothing', async (t) => {
  const { dir, call, repo, finished } = await agentWithRepository(t);
  // A shell's metacharacters in an argument reach the program as they are: nothing expands them.
  const plan = await call('plans.create', {
    name: 'dump',
    sources: [],
    command: { command: ['printf', '%s\\n', 'row 1; $(touch /tmp/never) `x` *'], filename: 'app.dump' },
    targets: [repo],
    schedule: { kind: 'manual' },
  });
  assert.deepEqual(plan.command, { command: ['printf', '%s\\n', 'row 1; $(touch /tmp/never) `x` *'], filename: 'app.dump' });
  await call('jobs.backup', { planId: plan.id });
  const [run] = await finished(plan.id);
  assert.equal(run?.result, 'succeeded', run?.message);
  const snapshots = await call('snapshots.list', { repository: repo });
  assert.equal(snapshots.length, 1);
  assert.deepEqual(snapshots[0]?.paths, ['/app.dump']);
  const target = join(dir, 'restored');
  const restore = await call('jobs.restore', { repository: repo, snapshot: snapshots[0]?.id as string, target });
  for (let i = 0; i < 500; i++) {
    const job = (await call('jobs.list', { limit: 100 })).find((j) => j.id === restore.id);
    if (job?.result !== 'queued' && job?.result !== 'running') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(await readFile(join(target, 'app.dump'), 'utf8'), 'row 1; $(touch /tmp/never) `x` *\n');

  // The command now fails: the job fails with its words, and no snapshot is added.
  await call('plans.update', { id: plan.id, changes: { command: { command: ['sh', '-c', 'echo "database is locked" >&2; exit 3'], filename: 'app.dump' } } });
  await call('jobs.backup', { planId: plan.id });
  const runs = await finished(plan.id);
  assert.equal(runs.length, 2);
  assert.equal(runs[1]?.result, 'failed');
  assert.match(runs[1]?.message ?? '', /sh exited with status 3, so no snapshot was saved: database is locked/);
  assert.equal((await call('snapshots.list', { repository: repo })).length, 1);
});

test('a plan backs up paths or a command, not both or neither, and a command cannot be continuous', async (t) => {
  const { call, repo } = await agentWithRepository(t);
  const command = { command: ['true'], filename: 'x' };
  await assert.rejects(call('plans.create', { name: 'both', sources: ['/tmp'], command, targets: [repo], schedule: { kind: 'manual' } }), /either files and folders or a command/);
  await assert.rejects(call('plans.create', { name: 'none', sources: [], targets: [repo], schedule: { kind: 'manual' } }), /at least one file or folder, or a command/);
  await assert.rejects(call('plans.create', { name: 'watch', sources: [], command, targets: [repo], schedule: { kind: 'continuous' } }), /cannot be watched/);
  await assert.rejects(call('plans.create', { name: 'bad', sources: [], command: { command: ['true'], filename: '../etc' }, targets: [repo], schedule: { kind: 'manual' } }), /plain file name/);
  assert.equal(spawnSync('true').status, 0);
});
