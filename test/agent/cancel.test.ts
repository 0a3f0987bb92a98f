import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JobRecord } from '../../src-shared/api.js';
import type { Progress } from '../../src-shared/progress.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { bytesUnder } from '../helpers/folderSize.js';
import { bin, childEnv, progressed, startAgent, type AgentUnderTest } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * Cancel through the agent's API, for every kind of job that reads or rewrites a repository: the
 * request lands while the job is under way, the job ends as cancelled (not failed), the lock is
 * released, the repository checks clean, and a cancelled restore leaves no temporary file and is
 * marked partial. Set up with the CLI, so the agent is only asked to run and cancel.
 */

const MiB = 1024 * 1024;

function cli(args: string[], env: Record<string, string>): string {
  const result = spawnSync(process.execPath, [bin, ...args], { env: childEnv(env), encoding: 'utf8' });
  assert.equal(result.status, 0, `hindsight ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Asks the agent to cancel the job once it is under way; returns how the job ended. */
async function cancelMidway(agent: AgentUnderTest, job: JobRecord, enough: (progress: Progress) => boolean): Promise<JobRecord> {
  await progressed(agent, job.id, enough);
  assert.deepEqual(await agent.client.call('jobs.cancel', { jobId: job.id }), { cancelled: true });
  const ended = await agent.finished(job.id);
  assert.deepEqual(await agent.client.call('jobs.cancel', { jobId: job.id }), { cancelled: false }, 'an ended job cannot be cancelled again');
  return ended;
}

async function assertNoLocks(repo: string): Promise<void> {
  assert.deepEqual(await readdir(join(repo, 'locks')), [], 'the lock is released');
}

test('jobs.cancel stops a restore, a check and a prune midway: each ends cancelled, unlocked, the repository sound', { timeout: 600_000 }, async (t) => {
  const dir = await tempDir(t);
  const repo = join(dir, 'repo');
  const source = join(dir, 'source');
  const env = { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cli-cache') };
  // Small packs: the check and the repack have many safe points, and forgetting half the files leaves packs half used.
  cli(['init', '--pack-size', '4MiB'], env);
  await mkdir(join(source, 'small'), { recursive: true });
  for (let i = 0; i < 16; i++) await writeFile(join(source, `large-${i}.bin`), seededBytes(`cancel-${i}`, 6 * MiB));
  for (let i = 0; i < 400; i++) await writeFile(join(source, 'small', `note-${i}.txt`), seededBytes(`note-${i}`, 4000));
  cli(['backup', source], env);
  for (let i = 0; i < 16; i += 2) await unlink(join(source, `large-${i}.bin`));
  cli(['backup', source], env);
  cli(['forget', '--keep-last', '1'], env);

  const agent = await startAgent(t);
  const { client } = agent;
  await client.call('repositories.connect', { location: repo, password: 'pw', remember: false });
  const [snapshot] = await client.call('snapshots.list', { repository: repo });
  assert.ok(snapshot);

  // A restore into folders that exist writes every file under a temporary name first.
  const target = join(dir, 'restored');
  await mkdir(join(target, 'small'), { recursive: true });
  const restore = await client.call('jobs.restore', { repository: repo, snapshot: snapshot.id, paths: [source], target });
  const restored = await cancelMidway(agent, restore, (p) => p.bytesDone > 0);
  assert.equal(restored.result, 'cancelled', restored.message);
  assert.match(restored.message ?? '', /^Cancelled\. The restore into .* is partial/);
  assert.equal(restored.summary?.partial, 'yes');
  const written = await readdir(target, { recursive: true });
  assert.deepEqual(written.filter((name) => name.includes('.hindsight-restore-')), [], 'no temporary file is left');
  assert.ok((await bytesUnder(target)) < (await bytesUnder(source)), 'the cancelled restore stopped before the end');
  await assertNoLocks(repo);

  const check = await client.call('jobs.check', { repository: repo, readData: true });
  const checked = await cancelMidway(agent, check, (p) => p.phase !== 'done');
  assert.equal(checked.result, 'cancelled', checked.message);
  assert.match(checked.message ?? '', /^Cancelled\. The check was stopped before it finished/);
  await assertNoLocks(repo);

  const prune = await client.call('jobs.prune', { repository: repo });
  const pruned = await cancelMidway(agent, prune, () => true);
  assert.equal(pruned.result, 'cancelled', pruned.message);
  assert.match(pruned.message ?? '', /^Cancelled\. The prune was stopped before it changed/);
  await assertNoLocks(repo);

  assert.ok(!agent.events.some((e) => e.type === 'error'), 'a cancelled job is no failure');
  const history = await client.call('jobs.list', { limit: 3 });
  assert.deepEqual(history.map((j) => [j.kind, j.result]), [['prune', 'cancelled'], ['check', 'cancelled'], ['restore', 'cancelled']]);

  // The repository is as sound as before, and each job run again completes.
  cli(['check', '--read-data'], env);
  const prunedAgain = await agent.finished((await client.call('jobs.prune', { repository: repo })).id);
  assert.equal(prunedAgain.result, 'succeeded', prunedAgain.message);
  assert.ok(Number(prunedAgain.summary?.packsDeleted) + Number(prunedAgain.summary?.packsRepacked) > 0, 'the prune had work left to do');
  const checkedAgain = await agent.finished((await client.call('jobs.check', { repository: repo, readData: true })).id);
  assert.equal(checkedAgain.result, 'succeeded', checkedAgain.message);
  const restoredAgain = await agent.finished((await client.call('jobs.restore', { repository: repo, snapshot: snapshot.id, paths: [source], target })).id);
  assert.equal(restoredAgain.result, 'succeeded', restoredAgain.message);
  assertSameTree(await describeTree(target), await describeTree(source));
  await assertNoLocks(repo);
  await agent.stop();
});

test("jobs.cancel during a backup's automatic prune: the backup has succeeded, the repository is sound, and the prune runs after the next backup", { timeout: 600_000 }, async (t) => {
  const dir = await tempDir(t);
  const repo = join(dir, 'repo');
  const source = join(dir, 'source');
  const env = { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cli-cache') };
  cli(['init', '--pack-size', '4MiB'], env);
  await mkdir(source, { recursive: true });
  for (let i = 0; i < 16; i++) await writeFile(join(source, `large-${i}.bin`), seededBytes(`auto-prune-${i}`, 6 * MiB));
  const agent = await startAgent(t);
  const { client } = agent;
  await client.call('repositories.connect', { location: repo, password: 'pw', remember: false });
  const plan = await client.call('plans.create', { name: 'auto', sources: [source], targets: [repo], schedule: { kind: 'manual' }, retention: { last: 1 } });
  const backup = async () => agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal((await backup()).result, 'succeeded');
  // Half the files gone and the first snapshot forgotten by the plan's retention: the prune has packs to delete.
  for (let i = 0; i < 16; i += 2) await unlink(join(source, `large-${i}.bin`));
  await client.call('plans.update', { id: plan.id, changes: { pruneEveryDays: 1 } });

  const second = await client.call('jobs.backup', { planId: plan.id });
  const ended = await cancelMidway(agent, second, (p) => p.operation === 'prune');
  assert.equal(ended.result, 'succeeded', ended.message);
  assert.match(ended.message ?? '', /^Backed up; then the prune was stopped before it changed .* It runs again after the next backup\.$/);
  assert.equal(ended.summary?.prune, 'stopped');
  const snapshots = await client.call('snapshots.list', { repository: repo });
  assert.deepEqual(snapshots.map((s) => s.id), [ended.summary?.snapshot], 'the new snapshot is saved, the old one forgotten');
  await assertNoLocks(repo);
  cli(['check', '--read-data'], env);

  // Still due: the next backup prunes, and leaves nothing for a prune after it.
  const third = await backup();
  assert.equal(third.result, 'succeeded', third.message);
  assert.equal(third.summary?.prune, undefined);
  const pruneAfter = await agent.finished((await client.call('jobs.prune', { repository: repo })).id);
  assert.equal(pruneAfter.result, 'succeeded', pruneAfter.message);
  assert.equal(Number(pruneAfter.summary?.packsDeleted) + Number(pruneAfter.summary?.packsRepacked), 0, 'the backup had pruned');
  const restored = join(dir, 'restored');
  const [latest] = (await client.call('snapshots.list', { repository: repo })).slice(-1);
  assert.equal((await agent.finished((await client.call('jobs.restore', { repository: repo, snapshot: latest!.id, paths: [source], target: restored })).id)).result, 'succeeded');
  assertSameTree(await describeTree(restored), await describeTree(source));
  await assertNoLocks(repo);
  await agent.stop();
});
