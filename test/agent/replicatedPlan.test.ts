import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
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
  const targets = await client.call('repositories.list', {});
  assert.deepEqual(targets.map((r) => [r.location, r.behind, r.reachable]).sort(), [[first, false, true], [second, false, true]]);

  // The second target goes away (an unplugged disk): the backup goes on with the first, the second is behind.
  await rename(second, `${second}-unplugged`);
  await writeFile(join(source, 'thesis.txt'), 'chapter one, revised');
  const degraded = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(degraded.result, 'succeeded', degraded.message);
  assert.ok(degraded.warnings > 0);
  assert.ok(agent.events.some((e) => e.type === 'warning' && e.warning.path === second && /behind/.test(e.warning.message)));
  const after = await client.call('repositories.list', {});
  assert.equal(after.find((r) => r.location === second)?.behind, true);
  assert.equal(after.find((r) => r.location === first)?.behind, false);
  await agent.stop();
});
