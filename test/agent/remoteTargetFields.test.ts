import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAgent } from '../helpers/agentProcess.js';
import { rcloneRemote } from '../helpers/rcloneRemote.js';
import { REST_PASSWORD, REST_USER, rcloneMissing, startRestServer } from '../helpers/restServer.js';
import { tempDir } from '../helpers/tempDir.js';

const skip = rcloneMissing() ?? false;

/** Every file under `folder` (the agent's database, its journal, logs…), read whole. */
async function everyFile(folder: string): Promise<{ path: string; bytes: Buffer }[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return Promise.all(entries.filter((entry) => entry.isFile()).map(async (entry) => ({ path: join(entry.parentPath, entry.name), bytes: await readFile(join(entry.parentPath, entry.name)) })));
}

test('a plan on rest:https:// with a password in the location and a CA certificate as a target field backs up against rclone serve restic with auth; the password is in no file of the agent', { skip }, async (t) => {
  const server = await startRestServer(t, { tls: true });
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'notes.txt'), 'kept on a REST server');
  const agent = await startAgent(t);
  const { client } = agent;
  const bare = `rest:${server.url}/laptop`;
  const withPassword = `rest:https://${REST_USER}:${encodeURIComponent(REST_PASSWORD)}@127.0.0.1:${server.port}/laptop`;

  await assert.rejects(client.call('repositories.create', { location: withPassword, password: 'repository pw', remember: false }), /has a TLS certificate Hindsight cannot trust .* --rest-cacert FILE/);
  const created = await client.call('repositories.create', { location: withPassword, password: 'repository pw', remember: false, settings: { restCaCert: server.certificate as string } });
  assert.equal(created.location, bare, 'the location kept has no credentials');
  assert.ok(
    agent.events.some((e) => e.type === 'warning' && e.warning.path === bare && /kept for this session only/.test(e.warning.message)),
    'without a keychain (none in this test) the agent says the credentials last this session only',
  );

  const plan = await client.call('plans.create', { name: 'rest', sources: [source], targets: [withPassword], schedule: { kind: 'manual' } });
  assert.deepEqual(plan.targets, [bare]);
  assert.deepEqual(plan.targetSettings, { [bare]: { restCaCert: server.certificate } }, 'the plan shows its target\'s certificate');
  const backedUp = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(backedUp.result, 'succeeded', backedUp.message);
  const snapshots = await client.call('snapshots.list', { repository: bare });
  assert.equal(snapshots.length, 1);
  const checked = await agent.finished((await client.call('jobs.check', { repository: bare, readData: true })).id);
  assert.equal(checked.result, 'succeeded', checked.message);
  assert.deepEqual((await client.call('repositories.list', {})).map((r) => r.location), [bare]);

  // Another certificate field on the plan replaces the kept one: a wrong file fails the next backup clearly.
  await client.call('plans.update', { id: plan.id, changes: { targetSettings: { [bare]: { restCaCert: join(dir, 'gone.pem') } } } });
  await writeFile(join(source, 'more.txt'), 'second');
  const broken = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(broken.result, 'failed');
  assert.match(broken.message ?? '', /Cannot read the certificate file .*gone\.pem/);

  await agent.stop();
  const files = await everyFile(agent.dataDir);
  assert.ok(files.some((file) => file.bytes.includes(`127.0.0.1:${server.port}/laptop`)), 'the files read hold the plan and its target');
  for (const file of files) {
    for (const secret of [REST_PASSWORD, encodeURIComponent(REST_PASSWORD)]) assert.ok(!file.bytes.includes(secret), `${file.path} holds the REST password`);
  }
});

test('a plan on rclone:REMOTE:PATH with rclone\'s arguments as a target field backs up through the agent', { skip }, async (t) => {
  const remote = await rcloneRemote(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'a.txt'), 'through rclone');
  const agent = await startAgent(t);
  const { client } = agent;
  const location = `rclone:${remote.name}:agent`;
  const settings = { rcloneArgs: `serve restic --stdio --config '${remote.config}'` };
  await client.call('repositories.create', { location, password: 'pw', remember: false, settings });
  const plan = await client.call('plans.create', { name: 'rclone', sources: [source], targets: [location], schedule: { kind: 'manual' } });
  assert.deepEqual(plan.targetSettings, { [location]: settings });
  const job = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(job.result, 'succeeded', job.message);
  assert.equal((await client.call('snapshots.list', { repository: location })).length, 1);
  assert.ok((await readdir(join(remote.directory, 'agent', 'snapshots'))).length === 1, 'the snapshot is on the remote');
});
