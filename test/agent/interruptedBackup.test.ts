import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JobRecord } from '../../src-shared/api.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { bytesUnder } from '../helpers/folderSize.js';
import { startAgent, type AgentUnderTest } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;

async function jobsOf(agent: AgentUnderTest, planId: string): Promise<JobRecord[]> {
  return (await agent.client.call('jobs.list', { limit: 100 })).filter((j) => j.planId === planId);
}

/**
 * Windows ends the session without before-quit, and a killed app gives its agent no time for the safe
 * stop: the agent process just ends, mid-backup. The next start must leave the repository sound, say
 * what happened to the job, and run the backup again to completion.
 */
test('an agent killed mid-backup: the next start marks the job, runs the backup again and finishes it; the repository checks clean', { timeout: 300_000 }, async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  const total = 96 * MiB;
  for (let i = 0; i < 12; i++) await writeFile(join(source, `file-${i}.bin`), seededBytes(`killed-${i}`, total / 12));
  const dataDir = join(dir, 'data');
  // The password as the keychain would give it to the restarted agent.
  const env = { HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_PASSWORD: 'pw' };
  const first = await startAgent(t, { dataDir, env });
  const repo = join(dir, 'repo');
  await first.client.call('repositories.create', { location: repo, password: 'pw', remember: false });
  const plan = await first.client.call('plans.create', { name: 'files', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  const job = await first.client.call('jobs.backup', { planId: plan.id });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (first.events.some((e) => e.type === 'job.progress' && e.jobId === job.id && e.progress.bytesDone > 8 * MiB)) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
  });
  const exited = new Promise((resolve) => first.child.once('exit', resolve));
  first.child.kill('SIGKILL');
  await exited;
  await first.stop();
  const sentBefore = await bytesUnder(join(repo, 'data'));

  const second = await startAgent(t, { dataDir, env });
  let rerun: JobRecord | undefined;
  const deadline = Date.now() + 240_000;
  while (!rerun && Date.now() < deadline) {
    rerun = (await jobsOf(second, plan.id)).find((j) => j.id !== job.id && j.endedAt !== undefined);
    if (!rerun) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(rerun, 'the cut-off backup ran again by itself');
  assert.equal(rerun.result, 'succeeded', rerun.message);
  const old = (await jobsOf(second, plan.id)).find((j) => j.id === job.id);
  assert.equal(old?.result, 'failed');
  assert.match(old?.message ?? '', /agent stopped while this job ran/);
  const added = Number(rerun.summary?.bytesAdded);
  t.diagnostic(`${sentBefore} bytes sent before the kill, ${added} added by the re-run, for ${total}`);

  const check = await second.finished((await second.client.call('jobs.check', { repository: repo, readData: true })).id);
  assert.equal(check.result, 'succeeded', check.message);
  const snapshots = await second.client.call('snapshots.list', { repository: repo });
  assert.equal(snapshots.length, 1);
  const target = join(dir, 'restored');
  const restored = await second.finished((await second.client.call('jobs.restore', { repository: repo, snapshot: snapshots[0]!.id, target })).id);
  assert.equal(restored.result, 'succeeded', restored.message);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
  await second.stop();
});

/**
 * Quit, and Windows' session-end, stop the agent at a safe point (the same stop as SIGTERM): a backup
 * under way pauses, a restore ends partial. The next start must finish the backup without sending again
 * what was sent, and the repository must check clean.
 */
test('an agent stopped mid-backup (Quit, session end): the next start finishes the backup without sending its data twice; the repository checks clean', { timeout: 300_000 }, async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  const total = 96 * MiB;
  for (let i = 0; i < 12; i++) await writeFile(join(source, `file-${i}.bin`), seededBytes(`stopped-${i}`, total / 12));
  const dataDir = join(dir, 'data');
  const env = { HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_PASSWORD: 'pw' };
  const first = await startAgent(t, { dataDir, env });
  const repo = join(dir, 'repo');
  await first.client.call('repositories.create', { location: repo, password: 'pw', remember: false });
  const plan = await first.client.call('plans.create', { name: 'files', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  const job = await first.client.call('jobs.backup', { planId: plan.id });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (first.events.some((e) => e.type === 'job.progress' && e.jobId === job.id && e.progress.bytesDone > 24 * MiB)) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
  });
  await first.stop();
  const sentBefore = await bytesUnder(join(repo, 'data'));
  assert.ok(sentBefore > 0, 'some data was sent before the stop');

  const second = await startAgent(t, { dataDir, env });
  const deadline = Date.now() + 240_000;
  let finished: JobRecord | undefined;
  while (!finished && Date.now() < deadline) {
    finished = (await jobsOf(second, plan.id)).find((j) => j.result === 'succeeded');
    if (!finished) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(finished, `the stopped backup finished after the restart: ${JSON.stringify(await jobsOf(second, plan.id))}`);
  const added = Number(finished.summary?.bytesAdded);
  t.diagnostic(`${sentBefore} bytes sent before the stop, ${added} added after it, for ${total}`);
  assert.ok(added <= total - sentBefore / 2, 'what was sent before the stop is not sent again');
  const check = await second.finished((await second.client.call('jobs.check', { repository: repo, readData: true })).id);
  assert.equal(check.result, 'succeeded', check.message);
  const snapshots = await second.client.call('snapshots.list', { repository: repo });
  assert.equal(snapshots.length, 1);
  const target = join(dir, 'restored');
  const restored = await second.finished((await second.client.call('jobs.restore', { repository: repo, snapshot: snapshots[0]!.id, target })).id);
  assert.equal(restored.result, 'succeeded', restored.message);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
  await second.stop();
});
