import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AgentEvent } from '../../src-shared/api.js';
import { bin, childEnv, progressed, startAgent } from '../helpers/agentProcess.js';
import { seededBytes } from '../helpers/data.js';
import { SERVER_PASSWORD, startHindsightServer } from '../helpers/hindsightServer.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * A plan's retention (forget after each backup, prune when due) runs after the snapshot is saved:
 * when it fails the backup still succeeded, and the failure is its own line and warning; when another
 * process holds the repository's lock it waits, saying whose, instead of failing.
 */

const holdLock = fileURLToPath(new URL('../fixtures/holdLock.js', import.meta.url));

function cli(args: string[], env: Record<string, string>): string {
  const result = spawnSync(process.execPath, [bin, ...args], { env: childEnv(env), encoding: 'utf8' });
  assert.equal(result.status, 0, `hindsight ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

test('a plan\'s retention refused by an append-only server: the backup succeeds with its snapshot, and the failed forget is the job\'s message and a warning, not "backup failed"', async (t) => {
  const server = await startHindsightServer(t, { users: [{ name: 'alice', args: ['--append-only'] }] });
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'file.bin'), seededBytes('first', 100_000));
  const location = `rest:${server.url}/alice/laptop`;
  const rest = { HINDSIGHT_REST_USERNAME: 'alice', HINDSIGHT_REST_PASSWORD: SERVER_PASSWORD };
  cli(['init', '--repo', location], { ...rest, HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cli-cache') });
  const agent = await startAgent(t, { env: rest });
  const { client } = agent;
  await client.call('repositories.connect', { location, password: 'pw', remember: false });
  const plan = await client.call('plans.create', { name: 'laptop', sources: [source], targets: [location], schedule: { kind: 'manual' }, retention: { last: 1 } });
  const backup = async () => agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);

  // The first backup has nothing to forget.
  const first = await backup();
  assert.equal(first.result, 'succeeded', first.message);
  await writeFile(join(source, 'file.bin'), seededBytes('second', 100_000));
  const second = await backup();
  assert.equal(second.result, 'succeeded', second.message);
  assert.equal(second.summary?.forget, 'failed');
  assert.equal(typeof second.summary?.snapshot, 'string');
  assert.match(
    second.message ?? '',
    /^Backed up; then forgetting old snapshots failed: the server at rest:http:\/\/127\.0\.0\.1:\d+\/alice\/laptop refused to delete snapshots\/[0-9a-f]{64} \(HTTP 403\): it is append-only .* It runs again after the next backup\.$/,
  );
  assert.equal(second.warnings, 1);
  const warning = agent.events.find((e): e is Extract<AgentEvent, { type: 'warning' }> => e.type === 'warning' && e.jobId === second.id);
  assert.equal(warning?.warning.path, location);
  assert.match(warning?.warning.message ?? '', /^forgetting old snapshots failed after the backup: The server at .* refused to delete snapshots\//);
  assert.equal(agent.events.some((e) => e.type === 'error'), false, 'no error event: nothing failed that a person must act on at once');

  // Both snapshots are there (the new one saved, the old one not forgotten); the plan is not in error.
  const snapshots = await client.call('snapshots.list', { repository: location });
  assert.deepEqual(snapshots.map((s) => s.id).sort(), [first.summary?.snapshot, second.summary?.snapshot].sort());
  const status = (await client.call('status.get', {})).plans.find((p) => p.planId === plan.id);
  assert.equal(status?.state, 'idle');
  assert.equal(status?.lastRun?.result, 'succeeded');
  assert.match(status?.lastRun?.message ?? '', /^Backed up; then forgetting old snapshots failed/);
  assert.deepEqual(await readdir(join(server.data, 'alice', 'laptop', 'locks')), [], 'the retention\'s lock was released');
});

test('a plan\'s retention waits for a lock another process holds, saying whose: a Cancel ends the wait with the backup saved; once the holder is gone, forget and prune run', async (t) => {
  const dir = await tempDir(t);
  const repo = join(dir, 'repo');
  const source = join(dir, 'source');
  await mkdir(source);
  const env = { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cli-cache') };
  cli(['init'], env);
  const agent = await startAgent(t);
  const { client } = agent;
  await client.call('repositories.connect', { location: repo, password: 'pw', remember: false });
  const plan = await client.call('plans.create', { name: 'home', sources: [source], targets: [repo], schedule: { kind: 'manual' }, retention: { last: 1 } });
  const backup = async () => client.call('jobs.backup', { planId: plan.id });
  for (let i = 0; i < 2; i++) {
    await writeFile(join(source, 'file.bin'), seededBytes(`generation ${i}`, 300_000));
    assert.equal((await agent.finished((await backup()).id)).result, 'succeeded');
  }

  // Another process (a backup elsewhere) holds a shared lock: the backup goes on beside it, its forget waits.
  const holdShared = async () => {
    const holder = spawn(process.execPath, [holdLock, repo, 'pw', 'shared'], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => holder.kill('SIGKILL'));
    await once(holder.stdout, 'data');
    const waitingFor = new RegExp(`^waiting for the shared lock held by .+@.+ \\(pid ${holder.pid}, since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\)$`);
    const gone = async () => {
      holder.kill('SIGKILL');
      await once(holder, 'exit');
    };
    return { waitingFor, gone };
  };
  let holder = await holdShared();
  await writeFile(join(source, 'file.bin'), seededBytes('generation 2', 300_000));
  const cancelled = await backup();
  assert.match((await progressed(agent, cancelled.id, (p) => p.phase.startsWith('waiting for'))).phase, holder.waitingFor);
  assert.deepEqual(await client.call('jobs.cancel', { jobId: cancelled.id }), { cancelled: true });
  const stopped = await agent.finished(cancelled.id);
  assert.equal(stopped.result, 'succeeded', stopped.message);
  assert.equal(stopped.summary?.forget, 'stopped');
  assert.equal(stopped.message, 'Backed up; then stopped while waiting for the repository lock; nothing was changed. It runs again after the next backup.');
  assert.equal((await client.call('snapshots.list', { repository: repo })).length, 2, 'the new snapshot saved, nothing forgotten');

  // Once the holder is gone (its lock stale: its process has exited), the forget goes on, and the prune now due after it.
  await client.call('plans.update', { id: plan.id, changes: { pruneEveryDays: 1 } });
  await writeFile(join(source, 'file.bin'), seededBytes('generation 3', 300_000));
  const waited = await backup();
  await progressed(agent, waited.id, (p) => holder.waitingFor.test(p.phase));
  await holder.gone();
  const done = await agent.finished(waited.id);
  assert.equal(done.result, 'succeeded', done.message);
  assert.equal(done.message, undefined);
  assert.equal(done.summary?.forgotten, 2);
  assert.equal(done.warnings, 0);
  assert.deepEqual((await client.call('snapshots.list', { repository: repo })).map((s) => s.id), [done.summary?.snapshot]);
  assert.ok(agent.events.some((e) => e.type === 'job.progress' && e.jobId === waited.id && e.progress.operation === 'prune' && !e.progress.phase.startsWith('waiting')), 'the prune ran');

  // A prune started by hand waits the same way.
  holder = await holdShared();
  const pruning = await client.call('jobs.prune', { repository: repo });
  await progressed(agent, pruning.id, (p) => holder.waitingFor.test(p.phase));
  await holder.gone();
  assert.equal((await agent.finished(pruning.id)).result, 'succeeded');
  cli(['check', '--read-data'], env);
});
