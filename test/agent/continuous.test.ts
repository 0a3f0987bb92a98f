import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentEvent, JobRecord } from '../../src-shared/api.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { bytesUnder } from '../helpers/folderSize.js';
import { startAgent, type AgentUnderTest } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;

function nextFinished(agent: AgentUnderTest, after: number, predicate: (job: JobRecord) => boolean, timeoutMs = 30_000): Promise<JobRecord> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const found = agent.events.slice(after).find((e): e is Extract<AgentEvent, { type: 'job.finished' }> => e.type === 'job.finished' && predicate(e.job));
      if (found) {
        clearInterval(poll);
        resolve(found.job);
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`no matching job finished within ${timeoutMs} ms; events: ${JSON.stringify(agent.events.slice(after).map((e) => e.type))}`));
      }
    }, 20);
  });
}

test('a continuous plan backs up edited files by itself, re-reading only what changed', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  for (const folder of ['notes', 'archive/2025', 'archive/2024']) await mkdir(join(source, folder), { recursive: true });
  await writeFile(join(source, 'notes', 'todo.txt'), 'buy milk');
  for (let i = 0; i < 30; i++) await writeFile(join(source, 'archive', i % 2 ? '2025' : '2024', `old-${i}.txt`), `archived ${i}`);
  const agent = await startAgent(t);
  const { client } = agent;
  const repo = join(dir, 'repo');
  await client.call('repositories.create', { location: repo, password: 'pw', remember: false });
  const plan = await client.call('plans.create', {
    name: 'notes',
    sources: [source],
    targets: [repo],
    schedule: { kind: 'continuous', debounceSeconds: 0.3, maxWaitSeconds: 5 },
    excludes: ['*.swp'],
  });
  const first = await nextFinished(agent, 0, (j) => j.planId === plan.id);
  assert.equal(first.result, 'succeeded', first.message);
  assert.equal((await client.call('status.get', {})).plans[0]?.watching, true);

  const mark = agent.events.length;
  await writeFile(join(source, 'notes', 'todo.txt'), 'buy milk\ncall the plumber');
  await writeFile(join(source, 'notes', '.todo.txt.swp'), 'editor junk');
  const second = await nextFinished(agent, mark, (j) => j.planId === plan.id);
  assert.equal(second.result, 'succeeded', second.message);
  assert.equal(second.summary?.filesChanged, 1);
  assert.equal(second.summary?.filesUnchanged, 30, 'the archive folders came from the parent snapshot');

  const versions = await client.call('snapshots.versions', { repository: repo, path: join(source, 'notes', 'todo.txt') });
  assert.deepEqual(versions.map((v) => v.size).sort((a, b) => a - b), [8, 25]);
  const snapshots = await client.call('snapshots.list', { repository: repo });
  const latest = snapshots[snapshots.length - 1];
  assert.ok(latest);
  const names = (await client.call('snapshots.browse', { repository: repo, snapshot: latest.id, path: join(source, 'notes') })).map((e) => e.name);
  assert.deepEqual(names, ['todo.txt'], 'the excluded swap file is neither watched nor saved');
  await agent.stop();
});

test('pausing a large backup keeps its work; resuming finishes it without uploading anything twice', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  const total = 160 * MiB;
  for (let i = 0; i < 20; i++) await writeFile(join(source, `video-${i}.bin`), seededBytes(`pause-${i}`, total / 20));
  const agent = await startAgent(t);
  const { client } = agent;
  const repo = join(dir, 'repo');
  await client.call('repositories.create', { location: repo, password: 'pw', remember: false });
  const plan = await client.call('plans.create', { name: 'videos', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  const job = await client.call('jobs.backup', { planId: plan.id });

  // Pause as soon as the backup has made some progress.
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (agent.events.some((e) => e.type === 'job.progress' && e.jobId === job.id && e.progress.bytesDone > 8 * MiB)) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
  });
  const paused = await client.call('agent.pause', {});
  assert.equal(paused.state, 'paused');
  const stopped = await agent.finished(job.id);
  assert.equal(stopped.result, 'paused', stopped.message);
  assert.deepEqual(await client.call('snapshots.list', { repository: repo }), []);
  const kept = await bytesUnder(join(repo, 'data'));
  assert.ok(kept > 4 * MiB && kept < total, `work done before the pause is kept (${kept} bytes)`);

  const mark = agent.events.length;
  await client.call('agent.resume', {});
  const resumed = await nextFinished(agent, mark, (j) => j.planId === plan.id, 120_000);
  assert.equal(resumed.result, 'succeeded', resumed.message);
  const added = Number(resumed.summary?.bytesAdded);
  assert.ok(added + kept < total * 1.03, `nothing uploaded twice: ${kept} kept + ${added} added, for ${total}`);
  assert.ok(added < total - kept / 2);

  const target = join(dir, 'restored');
  const restoreJob = await agent.finished((await client.call('jobs.restore', { repository: repo, snapshot: String(resumed.summary?.snapshot), target })).id);
  assert.equal(restoreJob.result, 'succeeded', restoreJob.message);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
  assert.ok((await readFile(join(target, source, 'video-19.bin'))).equals(seededBytes('pause-19', total / 20)));
  await agent.stop();
});
