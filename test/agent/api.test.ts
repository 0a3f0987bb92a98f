import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentCallError } from '../../src-main/agent/transport/agentClient.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { startAgent } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

const PASSWORD = 'agent test password';

test('every call of the contract works through a real agent process and its socket', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(join(source, 'docs'), { recursive: true });
  await writeFile(join(source, 'docs', 'report.txt'), 'first draft');
  await writeFile(join(source, 'photo.bin'), seededBytes('photo', 3 * 1024 * 1024));
  const agent = await startAgent(t);
  const { client } = agent;
  const repo = join(dir, 'repo');

  const idle = await client.call('status.get', {});
  assert.equal(idle.state, 'idle');
  assert.deepEqual(idle.plans, []);

  // The app's "new repository" step follows init's rule: no missing parent (an unmounted disk), no folder of the user's files.
  const unmounted = join(dir, 'media', 'disk', 'hindsight');
  await assert.rejects(
    client.call('repositories.create', { location: unmounted, password: PASSWORD, remember: false }),
    (err: AgentCallError) => err.code === 'E_NO_PARENT' && /is the disk mounted\? To create the missing folders, create them first\./.test(err.message),
  );
  await assert.rejects(client.call('repositories.create', { location: source, password: PASSWORD, remember: false }), (err: AgentCallError) => err.code === 'E_NOT_EMPTY' && /holds other files/.test(err.message));
  const created = await client.call('repositories.create', { location: repo, password: PASSWORD, remember: true });
  assert.match(created.id, /^[0-9a-f]{64}$/);
  // No D-Bus session here: the keychain is unavailable, the password is kept for the session, and the client is told.
  assert.ok(agent.events.some((e) => e.type === 'warning' && /keychain cannot be used/.test(e.warning.message)));
  const connected = await client.call('repositories.connect', { location: repo, password: PASSWORD, remember: false });
  assert.equal(connected.id, created.id);
  await assert.rejects(client.call('repositories.connect', { location: repo, password: 'wrong', remember: false }), (err: AgentCallError) => err.code === 'E_WRONG_PASSWORD');
  assert.deepEqual((await client.call('repositories.list', {})).map((r) => [r.location, r.unlocked]), [[repo, true]]);

  const plan = await client.call('plans.create', { name: 'Home', sources: [source], targets: [repo], schedule: { kind: 'manual' } });
  assert.equal(plan.enabled, true);
  assert.ok(plan.excludes.length > 0, 'a new plan gets the default excludes');
  const renamed = await client.call('plans.update', { id: plan.id, changes: { name: 'Home folder', excludes: ['*.tmp'] } });
  assert.equal(renamed.name, 'Home folder');
  assert.deepEqual(renamed.excludes, ['*.tmp']);
  assert.deepEqual((await client.call('plans.list', {})).map((p) => p.name), ['Home folder']);

  const first = await client.call('jobs.backup', { planId: plan.id });
  assert.equal(first.kind, 'backup');
  const firstDone = await agent.finished(first.id);
  assert.equal(firstDone.result, 'succeeded', firstDone.message);
  assert.ok(agent.events.some((e) => e.type === 'job.progress' && e.jobId === first.id), 'progress events reach the client');

  await writeFile(join(source, 'docs', 'report.txt'), 'second draft, longer');
  const second = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(second.result, 'succeeded', second.message);

  const snapshots = await client.call('snapshots.list', { repository: repo });
  assert.equal(snapshots.length, 2);
  assert.ok(snapshots.every((s) => s.tags.includes(`plan:${plan.id}`)));
  const [a, b] = snapshots as [(typeof snapshots)[0], (typeof snapshots)[0]];
  const listing = await client.call('snapshots.browse', { repository: repo, snapshot: b.id, path: source });
  assert.deepEqual(listing.map((e) => [e.name, e.type]), [['docs', 'dir'], ['photo.bin', 'file']]);
  assert.equal(listing[1]?.size, 3 * 1024 * 1024);
  const versions = await client.call('snapshots.versions', { repository: repo, path: join(source, 'docs', 'report.txt') });
  assert.deepEqual(versions.map((v) => v.size).sort(), [11, 20]);
  const diff = await client.call('snapshots.diff', { repository: repo, from: a.id, to: b.id });
  assert.deepEqual(diff.map((d) => [d.path, d.change]), [[join(source, 'docs', 'report.txt'), 'modified']]);
  const found = await client.call('snapshots.search', { repository: repo, pattern: 'report' });
  assert.deepEqual(found.map((f) => f.path), [join(source, 'docs', 'report.txt')]);
  // A range across chunk boundaries (3 MiB in chunks of 0.5–8 MiB), a range past the end, and the whole small file.
  const photo = seededBytes('photo', 3 * 1024 * 1024);
  const middle = await client.call('snapshots.read', { repository: repo, snapshot: b.id, path: join(source, 'photo.bin'), offset: 1_000_001, length: 2_000_000 });
  assert.equal(middle.size, photo.length);
  assert.ok(Buffer.from(middle.data, 'base64').equals(photo.subarray(1_000_001, 3_000_001)));
  const tail = await client.call('snapshots.read', { repository: repo, snapshot: b.id, path: join(source, 'photo.bin'), offset: photo.length - 10, length: 100 });
  assert.ok(Buffer.from(tail.data, 'base64').equals(photo.subarray(photo.length - 10)));
  const report = await client.call('snapshots.read', { repository: repo, snapshot: a.id, path: join(source, 'docs', 'report.txt') });
  assert.equal(Buffer.from(report.data, 'base64').toString(), 'first draft');
  await assert.rejects(client.call('snapshots.read', { repository: repo, snapshot: a.id, path: join(source, 'docs') }), (err: AgentCallError) => err.code === 'E_NOT_A_FILE');
  await assert.rejects(client.call('snapshots.read', { repository: repo, snapshot: a.id, path: join(source, 'photo.bin'), length: 64 * 1024 * 1024 }), (err: AgentCallError) => err.code === 'E_INVALID_PARAMS');

  const folder = await client.call('host.listFolder', { path: source });
  assert.deepEqual(folder, { path: source, parent: dir, entries: [{ name: 'docs', type: 'dir' }, { name: 'photo.bin', type: 'file' }] });
  await assert.rejects(client.call('host.listFolder', { path: join(source, 'missing') }), (err: AgentCallError) => err.code === 'E_FOLDER_UNREADABLE' && /does not exist/.test(err.message));
  await assert.rejects(client.call('host.listFolder', { path: 'relative/path' }), (err: AgentCallError) => err.code === 'E_INVALID_PARAMS');

  const target = join(dir, 'restored');
  const restored = await agent.finished((await client.call('jobs.restore', { repository: repo, snapshot: b.id, target })).id);
  assert.equal(restored.result, 'succeeded', restored.message);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));
  const checked = await agent.finished((await client.call('jobs.check', { repository: repo, readData: true })).id);
  assert.equal(checked.result, 'succeeded', checked.message);
  const pruned = await agent.finished((await client.call('jobs.prune', { repository: repo })).id);
  assert.equal(pruned.result, 'succeeded', pruned.message);
  const jobs = await client.call('jobs.list', { limit: 10 });
  assert.deepEqual(jobs.map((j) => j.kind), ['prune', 'check', 'restore', 'backup', 'backup']);
  assert.ok(jobs.every((j) => j.result === 'succeeded' && j.endedAt !== undefined));
  assert.deepEqual(await client.call('jobs.cancel', { jobId: first.id }), { cancelled: false }, 'a finished job cannot be cancelled');

  const paused = await client.call('agent.pause', { forSeconds: 3600 });
  assert.equal(paused.state, 'paused');
  assert.ok(paused.pausedUntil && Date.parse(paused.pausedUntil) > Date.now() + 3500_000);
  await assert.rejects(client.call('jobs.backup', { planId: plan.id }), (err: AgentCallError) => err.code === 'E_PAUSED' && /paused/.test(err.message));
  assert.equal((await client.call('agent.resume', {})).state, 'idle');

  assert.deepEqual(await client.call('settings.get', {}), { maxConcurrentJobs: 1, deferOnBattery: false, deferOnMetered: true, uploadLimitKiBps: 0 });
  assert.equal((await client.call('settings.update', { maxConcurrentJobs: 2, deferOnBattery: true })).maxConcurrentJobs, 2);
  assert.deepEqual((await client.call('host.hint', { hint: 'on-battery' })).hints, ['on-battery']);
  assert.deepEqual((await client.call('host.hint', { hint: 'on-ac' })).hints, []);

  assert.deepEqual(await client.call('plans.delete', { id: plan.id }), { deleted: true });
  assert.deepEqual(await client.call('plans.list', {}), []);
  await agent.stop();
});

test('malformed and unknown messages get typed errors and the agent keeps serving', async (t) => {
  const agent = await startAgent(t);
  const { client } = agent;
  const answer = (message: { id: number } & Record<string, unknown>) =>
    client.send(message).then(
      () => assert.fail('expected an error'),
      (err: AgentCallError) => err,
    );
  assert.equal((await answer({ id: 1, type: 'request', method: 'no.such.method' })).code, 'E_UNKNOWN_METHOD');
  assert.equal((await answer({ id: 2, type: 'request', method: '__proto__' })).code, 'E_UNKNOWN_METHOD');
  assert.equal((await answer({ id: 3, type: 'request', method: 'plans.create', params: { name: 'x' } })).code, 'E_INVALID_PARAMS');
  const wrongType = await answer({ id: 4, type: 'request', method: 'plans.delete', params: { id: 42 } });
  assert.equal(wrongType.code, 'E_INVALID_PARAMS');
  assert.match(wrongType.message, /plans\.delete/);
  assert.equal((await answer({ id: 5, type: 'request', method: 'status.get', params: { extra: true } })).code, 'E_INVALID_PARAMS');
  assert.equal((await answer({ id: 6, type: 'nonsense', method: 'status.get' })).code, 'E_BAD_MESSAGE');
  assert.equal((await answer({ id: 7, type: 'request', method: 'plans.delete', params: { id: 'missing' } })).code, 'E_PLAN_NOT_FOUND');
  const badCron = await answer({ id: 8, type: 'request', method: 'plans.create', params: { name: 'n', sources: ['/tmp'], targets: ['/tmp/r'], schedule: { kind: 'cron', expression: 'every day' } } });
  assert.equal(badCron.code, 'E_INVALID_SCHEDULE');
  assert.match(badCron.message, /not a cron expression/);

  client.writeRaw('this is not json\n');
  client.writeRaw(`${'x'.repeat(17 * 1024 * 1024)}\n`);
  const deadline = Date.now() + 5000;
  while (client.unsolicited.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(client.unsolicited.map((e) => e.code), ['E_BAD_MESSAGE', 'E_BAD_MESSAGE']);
  assert.equal((await client.call('status.get', {})).state, 'idle', 'still answering after bad input');
  assert.equal(agent.child.exitCode, null);
  await agent.stop();
});
