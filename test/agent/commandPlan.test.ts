import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startInProcessAgent } from '../helpers/inProcessAgent.js';
import { tempDir } from '../helpers/tempDir.js';

test('a plan whose source is a command: the agent runs it without a shell and stores its output; a failing run saves nothing', async (t) => {
  const dir = await tempDir(t);
  const { call, repo, finished } = await startInProcessAgent(t, dir);
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
  const { call, repo } = await startInProcessAgent(t, await tempDir(t));
  const command = { command: ['true'], filename: 'x' };
  await assert.rejects(call('plans.create', { name: 'both', sources: ['/tmp'], command, targets: [repo], schedule: { kind: 'manual' } }), /either files and folders or a command/);
  await assert.rejects(call('plans.create', { name: 'none', sources: [], targets: [repo], schedule: { kind: 'manual' } }), /at least one file or folder, or a command/);
  await assert.rejects(call('plans.create', { name: 'watch', sources: [], command, targets: [repo], schedule: { kind: 'continuous' } }), /cannot be watched/);
  await assert.rejects(call('plans.create', { name: 'bad', sources: [], command: { command: ['true'], filename: '../etc' }, targets: [repo], schedule: { kind: 'manual' } }), /plain file name/);
  assert.equal(spawnSync('true').status, 0);
});
