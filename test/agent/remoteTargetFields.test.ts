import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AzureBackend } from '../../src-main/engine/backend/azureBackend.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../helpers/azureServer.js';
import { startAgent } from '../helpers/agentProcess.js';
import { collect } from '../helpers/backendContract.js';
import { rcloneRemote } from '../helpers/rcloneRemote.js';
import { RCLONE, REST_PASSWORD, REST_USER, rcloneMissing, startRestServer } from '../helpers/restServer.js';
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

test('a plan on azure://ACCOUNT/… whose access key is given through the agent backs up against Azurite; the key is in no file of the agent, and a wrong one given later fails the next backup clearly', async (t) => {
  const server = await startAzurite(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'notes.txt'), 'kept in Azure Blob Storage');
  // No Azure credentials in the agent's environment: the key can come only from what the agent keeps.
  const agent = await startAgent(t, { env: { AZURE_STORAGE_CONNECTION_STRING: '', AZURE_STORAGE_ACCOUNT: '', AZURE_STORAGE_KEY: '', AZURE_STORAGE_SAS_TOKEN: '' } });
  const { client } = agent;
  const location = `azure://${AZURITE_ACCOUNT}/agent-plan/laptop`;
  const endpoint = { azureEndpoint: server.endpoint };

  await assert.rejects(client.call('repositories.create', { location, password: 'repository pw', remember: false, settings: endpoint }), /No Azure Storage credentials found/);
  await assert.rejects(
    client.call('repositories.create', { location: 'azure:agent-plan/laptop', password: 'repository pw', remember: false, settings: { ...endpoint, azureKey: AZURITE_KEY } }),
    { code: 'E_INVALID_PARAMS', message: 'An access key or SAS token is for the storage account it belongs to: write azure://ACCOUNT/agent-plan/laptop rather than azure:agent-plan/laptop.' },
  );
  const created = await client.call('repositories.create', { location, password: 'repository pw', remember: false, settings: { ...endpoint, azureKey: AZURITE_KEY } });
  assert.equal(created.location, location);
  assert.ok(
    agent.events.some((e) => e.type === 'warning' && e.warning.path === location && e.warning.message.startsWith('the access key of this target is kept for this session only')),
    'without a keychain (none in this test) the agent says the key lasts this session only',
  );

  const plan = await client.call('plans.create', { name: 'azure', sources: [source], targets: [location], schedule: { kind: 'manual' } });
  assert.deepEqual(plan.targetSettings, { [location]: endpoint }, 'the plan shows its target\'s endpoint, never the key');
  const backedUp = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(backedUp.result, 'succeeded', backedUp.message);
  assert.equal((await client.call('snapshots.list', { repository: location })).length, 1);
  const checked = await agent.finished((await client.call('jobs.check', { repository: location, readData: true })).id);
  assert.equal(checked.result, 'succeeded', checked.message);
  const stored = new AzureBackend(server.options('laptop', 'agent-plan'));
  t.after(() => stored.close());
  assert.equal((await collect(stored.list('snapshots'))).length, 1, 'the snapshot is in the container, under the prefix');

  // A key given later replaces the kept one: a wrong one fails the next backup, and says which key to check.
  const wrongKey = Buffer.alloc(64, 7).toString('base64');
  await client.call('plans.update', { id: plan.id, changes: { targetSettings: { [location]: { ...endpoint, azureKey: wrongKey } } } });
  await writeFile(join(source, 'more.txt'), 'second');
  const refused = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(refused.result, 'failed');
  assert.match(refused.message ?? '', /refused the account key of the storage account "devstoreaccount1" .*check the access key given for this target/);

  await agent.stop();
  const files = await everyFile(agent.dataDir);
  assert.ok(files.some((file) => file.bytes.includes('agent-plan/laptop')), 'the files read hold the plan and its target');
  for (const file of files) {
    for (const secret of [AZURITE_KEY, wrongKey]) assert.ok(!file.bytes.includes(secret), `${file.path} holds an Azure key`);
  }
});

test('the agent lists rclone\'s remotes for the location fields; a missing rclone is said plainly', { skip }, async (t) => {
  const remote = await rcloneRemote(t, 'gdrive');
  const dir = await tempDir(t);
  const agent = await startAgent(t, { env: { RCLONE_CONFIG: remote.config } });
  assert.deepEqual((await agent.client.call('host.rcloneRemotes', {})).remotes, ['gdrive']);
  assert.deepEqual((await agent.client.call('host.rcloneRemotes', { program: RCLONE })).remotes, ['gdrive']);
  await assert.rejects(agent.client.call('host.rcloneRemotes', { program: join(dir, 'rclone') }), { code: 'E_RCLONE_MISSING', message: `The rclone program ${join(dir, 'rclone')} does not exist.` });

  // No rclone on the agent's PATH.
  const without = await startAgent(t, { env: { PATH: dir } });
  await assert.rejects(without.client.call('host.rcloneRemotes', {}), {
    code: 'E_RCLONE_MISSING',
    message: 'rclone is not installed on this machine (no "rclone" program on the PATH): install it (apt install rclone, or https://rclone.org/install/) and add a remote with "rclone config", or give the path of the rclone program.',
  });
});
