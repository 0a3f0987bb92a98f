import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JobRecord } from '../../src-shared/api.js';
import { startAgent, type AgentUnderTest } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

async function nextJob(agent: AgentUnderTest, kind: string, after: number): Promise<JobRecord> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const job = agent.events.slice(after).find((e) => e.type === 'job.started' && e.job.kind === kind);
    if (job && job.type === 'job.started') return agent.finished(job.job.id);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${kind} job started`);
}

test('a plan\'s targets: a second target is seeded with a complete copy and then backed up to; removing the first leaves a working plan', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'a.txt'), 'first');
  const agent = await startAgent(t);
  const { client } = agent;
  const disk = join(dir, 'disk');
  const nas = join(dir, 'nas');
  await client.call('repositories.create', { location: disk, password: 'pw', remember: false });
  const plan = await client.call('plans.create', { name: 'docs', sources: [source], targets: [disk], schedule: { kind: 'manual' } });
  assert.equal((await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id)).result, 'succeeded');

  const mark = agent.events.length;
  const updated = await client.call('plans.update', { id: plan.id, changes: { targets: [disk, nas] } });
  assert.deepEqual(updated.targets, [disk], 'the new target joins once it holds a copy');
  const seed = await nextJob(agent, 'seed', mark);
  assert.equal(seed.result, 'succeeded', seed.message);
  assert.equal(seed.repository, nas);
  assert.deepEqual((await client.call('plans.list', {})).find((p) => p.id === plan.id)?.targets, [disk, nas]);
  // The copy is complete on its own: checked alone, every byte read, with the snapshot already there.
  const check = await agent.finished((await client.call('jobs.check', { repository: nas, readData: true })).id);
  assert.equal(check.result, 'succeeded', check.message);
  assert.equal((await client.call('snapshots.list', { repository: nas })).length, 1);

  await writeFile(join(source, 'b.txt'), 'second');
  assert.equal((await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id)).result, 'succeeded');
  assert.equal((await client.call('snapshots.list', { repository: nas })).length, 2, 'backups now reach the new target');

  const moved = await client.call('plans.update', { id: plan.id, changes: { targets: [nas] } });
  assert.deepEqual(moved.targets, [nas]);
  await writeFile(join(source, 'c.txt'), 'third');
  assert.equal((await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id)).result, 'succeeded');
  assert.equal((await client.call('snapshots.list', { repository: nas })).length, 3);
  assert.equal((await client.call('snapshots.list', { repository: disk })).length, 2, 'the removed target is no longer written');
});
