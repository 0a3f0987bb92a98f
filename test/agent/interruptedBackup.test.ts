import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { JobRecord } from '../../src-shared/api.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { bytesUnder } from '../helpers/folderSize.js';
import { progressed, startAgent, type AgentUnderTest } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;
const TOTAL = 96 * MiB;

async function jobsOf(agent: AgentUnderTest, planId: string): Promise<JobRecord[]> {
  return (await agent.client.call('jobs.list', { limit: 100 })).filter((j) => j.planId === planId);
}

/** The plan's first job that `found` accepts, asked for until one is there (four minutes at most). */
async function jobOnceThere(agent: AgentUnderTest, planId: string, found: (job: JobRecord) => boolean): Promise<JobRecord | undefined> {
  for (const deadline = Date.now() + 240_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const job = (await jobsOf(agent, planId)).find(found);
    if (job) return job;
  }
  return undefined;
}

/**
 * An agent backing up a plan of 96 MiB (twelve files, their bytes from `label`) to a new repository,
 * returned once more than `sentMiB` of it is sent; `restart` starts another agent on the same data
 * folder, which gets the password as the keychain would give it.
 */
/** `uploadKiBps`: the agent's upload limit, for a test whose stop must come before the backup is done however busy the machine. */
async function backupUnderWay(t: TestContext, label: string, sentMiB: number, uploadKiBps = 0) {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  for (let i = 0; i < 12; i++) await writeFile(join(source, `file-${i}.bin`), seededBytes(`${label}-${i}`, TOTAL / 12));
  const dataDir = join(dir, 'data');
  const env = { HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_PASSWORD: 'pw' };
  const agent = await startAgent(t, { dataDir, env });
  const repo = join(dir, 'repo');
  if (uploadKiBps > 0) await agent.client.call('settings.update', { uploadLimitKiBps: uploadKiBps });
  await agent.client.call('repositories.create', { location: repo, password: 'pw', remember: false });
  const plan = await agent.client.call('plans.create', { name: 'files', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  const job = await agent.client.call('jobs.backup', { planId: plan.id });
  await progressed(agent, job.id, (p) => p.bytesDone > sentMiB * MiB);
  return { dir, source, repo, plan, job, agent, restart: () => startAgent(t, { dataDir, env }) };
}

/** Through the agent: the repository checks clean reading all data, holds one snapshot, and it restores byte for byte. */
async function assertOneSoundSnapshot(agent: AgentUnderTest, repo: string, source: string, target: string): Promise<void> {
  const check = await agent.finished((await agent.client.call('jobs.check', { repository: repo, readData: true })).id);
  assert.equal(check.result, 'succeeded', check.message);
  const snapshots = await agent.client.call('snapshots.list', { repository: repo });
  assert.equal(snapshots.length, 1);
  const restored = await agent.finished((await agent.client.call('jobs.restore', { repository: repo, snapshot: snapshots[0]!.id, target })).id);
  assert.equal(restored.result, 'succeeded', restored.message);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
}

/**
 * Windows ends the session without before-quit, and a killed app gives its agent no time for the safe
 * stop: the agent process just ends, mid-backup. The next start must leave the repository sound, say
 * what happened to the job, and run the backup again to completion.
 */
test('an agent killed mid-backup: the next start marks the job, runs the backup again and finishes it; the repository checks clean', { timeout: 300_000 }, async (t) => {
  const { dir, source, repo, plan, job, agent: first, restart } = await backupUnderWay(t, 'killed', 8);
  const exited = new Promise((resolve) => first.child.once('exit', resolve));
  first.child.kill('SIGKILL');
  await exited;
  await first.stop();
  const sentBefore = await bytesUnder(join(repo, 'data'));

  const second = await restart();
  const rerun = await jobOnceThere(second, plan.id, (j) => j.id !== job.id && j.endedAt !== undefined);
  assert.ok(rerun, 'the cut-off backup ran again by itself');
  assert.equal(rerun.result, 'succeeded', rerun.message);
  const old = (await jobsOf(second, plan.id)).find((j) => j.id === job.id);
  assert.equal(old?.result, 'failed');
  assert.match(old?.message ?? '', /agent stopped while this job ran/);
  const added = Number(rerun.summary?.bytesAdded);
  t.diagnostic(`${sentBefore} bytes sent before the kill, ${added} added by the re-run, for ${TOTAL}`);
  await assertOneSoundSnapshot(second, repo, source, join(dir, 'restored'));
  await second.stop();
});

/**
 * Quit, and Windows' session-end, stop the agent at a safe point (the same stop as SIGTERM): a backup
 * under way pauses, a restore ends partial. The next start must finish the backup without sending again
 * what was sent, and the repository must check clean.
 */
test('an agent stopped mid-backup (Quit, session end): the next start finishes the backup without sending its data twice; the repository checks clean', { timeout: 300_000 }, async (t) => {
  // 16 MiB/s: the rest of the 96 MiB takes seconds after the first 24, so the stop comes first even on a
  // loaded machine (unlimited, a full \`npm test\` once saw the backup finish before the stop arrived).
  const { dir, source, repo, plan, agent: first, restart } = await backupUnderWay(t, 'stopped', 24, 16 * 1024);
  await first.stop();
  const sentBefore = await bytesUnder(join(repo, 'data'));
  assert.ok(sentBefore > 0, 'some data was sent before the stop');

  const second = await restart();
  const finished = await jobOnceThere(second, plan.id, (j) => j.result === 'succeeded');
  assert.ok(finished, `the stopped backup finished after the restart: ${JSON.stringify(await jobsOf(second, plan.id))}`);
  const added = Number(finished.summary?.bytesAdded);
  t.diagnostic(`${sentBefore} bytes sent before the stop, ${added} added after it, for ${TOTAL}`);
  assert.ok(added <= TOTAL - sentBefore / 2, 'what was sent before the stop is not sent again');
  await assertOneSoundSnapshot(second, repo, source, join(dir, 'restored'));
  await second.stop();
});
