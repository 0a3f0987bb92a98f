import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin, childEnv, startAgent } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

test('a plan with two targets writes one snapshot to both copies of the repository', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'thesis.txt'), 'chapter one');
  const [first, second] = [join(dir, 'disk'), join(dir, 'nas')];
  const agent = await startAgent(t);
  const { client } = agent;
  await client.call('repositories.create', { location: first, password: 'pw', remember: false });
  // The second target starts as a copy of the first (3-2-1: same repository, two places).
  const copied = spawnSync(process.execPath, [bin, 'copy', '--from', first, '--to', second], { env: childEnv({ HINDSIGHT_PASSWORD: 'pw' }), encoding: 'utf8' });
  assert.equal(copied.status, 0, copied.stderr);
  const plan = await client.call('plans.create', { name: 'thesis', sources: [source], targets: [first, second], schedule: { kind: 'manual' } });
  const job = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(job.result, 'succeeded', job.message);
  for (const target of [first, second]) {
    const listed = spawnSync(process.execPath, [bin, 'snapshots', '--json', '--repo', target], { env: childEnv({ HINDSIGHT_PASSWORD: 'pw' }), encoding: 'utf8' });
    assert.deepEqual((JSON.parse(listed.stdout) as { id: string }[]).map((s) => s.id), [job.summary?.snapshot], `target ${target}`);
  }
  await agent.stop();
});
