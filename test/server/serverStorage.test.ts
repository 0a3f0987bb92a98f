import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { RestBackend } from '../../src-main/engine/backend/restBackend.js';
import { S3Backend } from '../../src-main/engine/backend/s3Backend.js';
import { collect, packHandle } from '../helpers/backendContract.js';
import { AzureBackend } from '../../src-main/engine/backend/azureBackend.js';
import { SftpBackend } from '../../src-main/engine/backend/sftpBackend.js';
import { AZURITE_KEY, startAzurite } from '../helpers/azureServer.js';
import { seededBytes } from '../helpers/data.js';
import { HINDSIGHT_BIN, addServerUser, cleanEnv, startHindsightServer } from '../helpers/hindsightServer.js';
import { REST_PASSWORD, REST_USER, rcloneMissing, startRestServer } from '../helpers/restServer.js';
import { sshdMissing, startSshServer } from '../helpers/sshServer.js';
import { raw } from '../helpers/rawHttp.js';
import { assertRepositoryCycle } from '../helpers/repositoryCycle.js';
import { TEST_PASSWORD } from '../helpers/testRepository.js';
import { S3_CREDENTIALS, startS3Server } from '../helpers/s3Server.js';

const MiB = 1024 * 1024;
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

test('hindsight server --storage s3:…: repositories live on an S3-compatible store (s3rver); the same cycle byte for byte, and status finds them there', async (t) => {
  const s3 = await startS3Server(t);
  const storage = `s3:${s3.endpoint}/hindsight/served`;
  const env = { AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey };
  const server = await startHindsightServer(t, { args: ['--storage', storage], env });
  assert.match(server.output(), new RegExp(`repositories in ${storage.replace(/[.:/]/g, '\\$&')}\\.`));
  await assertRepositoryCycle(t, () => new RestBackend(server.options('alice/laptop')), { packSize: 512 * 1024, bigFileBytes: 2 * 1024 * 1024 + 1 });

  // The objects are the S3 backend's, under the repository's prefix: the same repository opens there directly.
  const remote = new RestBackend(server.options('alice/laptop'));
  const direct = new S3Backend(s3.options('served/alice/laptop'));
  t.after(() => Promise.all([remote.close(), direct.close()]));
  for (const type of ['data', 'index', 'keys', 'snapshots', 'config'] as const) {
    const listed = (await collect(remote.list(type))).sort(byName);
    assert.ok(listed.length > 0, type);
    assert.deepEqual((await collect(direct.list(type))).sort(byName), listed, type);
  }
  assert.equal((await raw(server.port, 'POST', '/alice/second/?create=true')).status, 200);

  // A pack of three S3 parts streams through the server (a multipart upload as it comes, not held whole) and opens directly.
  const big = seededBytes('streamed through the server', 17 * MiB + 3);
  await remote.write(packHandle(77), big);
  assert.ok((await direct.read(packHandle(77))).equals(big), 'the streamed pack is on S3 whole');
  await remote.delete(packHandle(77));

  const status = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'status', '--data', server.data, '--storage', storage], { env: cleanEnv(env), encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^alice {2}1 {13}\d+ +[\d.]+ [KM]iB +-$/m);
});

test('hindsight server --storage sftp://…: repositories in folders on an SSH server (the test sshd); the same cycle byte for byte, each an ordinary repository folder there; status and prune find them', { skip: sshdMissing() ?? false }, async (t) => {
  const ssh = await startSshServer(t);
  const storage = `sftp://${ssh.username}@127.0.0.1:${ssh.port}${ssh.dir}/served`;
  const sshOptions = ['--ssh-key', ssh.userKey, '--known-hosts', ssh.knownHosts];
  const server = await startHindsightServer(t, { args: ['--storage', storage, ...sshOptions], users: [{ name: 'alice', args: ['--quota', '1GiB'] }] });
  assert.match(server.output(), new RegExp(`repositories in sftp://${ssh.username}@127\\.0\\.0\\.1:${ssh.port}`));
  await assertRepositoryCycle(t, () => new RestBackend(server.options('alice/laptop')), { packSize: 512 * 1024, bigFileBytes: 2 * 1024 * 1024 + 1 });

  const remote = new RestBackend(server.options('alice/laptop'));
  const direct = new SftpBackend(ssh.options(`${ssh.dir}/served/alice/laptop`));
  t.after(() => Promise.all([remote.close(), direct.close()]));
  for (const type of ['data', 'index', 'keys', 'snapshots', 'config'] as const) {
    const listed = (await collect(remote.list(type))).sort(byName);
    assert.ok(listed.length > 0, type);
    assert.deepEqual((await collect(direct.list(type))).sort(byName), listed, type);
  }
  const big = seededBytes('through the server to sftp', 9 * MiB + 1);
  await remote.write(packHandle(78), big);
  assert.ok((await direct.read(packHandle(78))).equals(big));
  await remote.delete(packHandle(78));

  const status = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'status', '--data', server.data, '--storage', storage, ...sshOptions], { env: cleanEnv(), encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^alice {2}1 {13}\d+ +[\d.]+ [KM]iB +[\d.]+ GiB \(0% used\)$/m);
  const pruned = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'prune', '--data', server.data, '--storage', storage, ...sshOptions, '--user', 'alice', '--keep-last', '1'], { env: cleanEnv({ HINDSIGHT_PASSWORD: TEST_PASSWORD }), encoding: 'utf8' });
  assert.equal(pruned.status, 0, `${pruned.stdout}${pruned.stderr}`);
  assert.match(pruned.stdout, /Repository alice\/laptop:/);
});

test('hindsight server --storage azure:… (Azurite) and rest:… (rclone serve restic): the same cycle byte for byte on each; on REST, quotas are refused at start as uncountable', { skip: rcloneMissing() ?? false }, async (t) => {
  const azurite = await startAzurite(t);
  const onAzure = await startHindsightServer(t, { args: ['--storage', 'azure://devstoreaccount1/served/top', '--azure-endpoint', azurite.endpoint], env: { AZURE_STORAGE_KEY: AZURITE_KEY } });
  await assertRepositoryCycle(t, () => new RestBackend(onAzure.options('alice/laptop')), { packSize: 512 * 1024, bigFileBytes: 2 * 1024 * 1024 + 1 });
  const direct = new AzureBackend({ ...azurite.options('top/alice/laptop', 'served') });
  t.after(() => direct.close());
  assert.ok((await collect(direct.list('snapshots'))).length > 0, 'the snapshots are on Azure under the repository prefix');
  const status = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'status', '--data', onAzure.data, '--storage', 'azure://devstoreaccount1/served/top', '--azure-endpoint', azurite.endpoint], { env: cleanEnv({ AZURE_STORAGE_KEY: AZURITE_KEY }), encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^alice {2}1 /m);

  const rest = await startRestServer(t);
  const restEnv = { HINDSIGHT_REST_USERNAME: REST_USER, HINDSIGHT_REST_PASSWORD: REST_PASSWORD };
  const onRest = await startHindsightServer(t, { args: ['--storage', `rest:${rest.url}/served`], env: restEnv });
  await assertRepositoryCycle(t, () => new RestBackend(onRest.options('alice/laptop')), { packSize: 512 * 1024, bigFileBytes: 2 * 1024 * 1024 + 1 });
  const restStatus = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'status', '--data', onRest.data, '--storage', `rest:${rest.url}/served`], { env: cleanEnv(restEnv), encoding: 'utf8' });
  assert.equal(restStatus.status, 2, restStatus.stderr);
  assert.match(restStatus.stderr, /A REST server cannot list the repositories it holds/);
  await onRest.stop();
  addServerUser(onRest.data, { name: 'bob', args: ['--quota', '1GiB'] });
  const refused = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', '--data', onRest.data, '--listen', '127.0.0.1:0', '--storage', `rest:${rest.url}/served`], { env: cleanEnv(restEnv), encoding: 'utf8', timeout: 30_000 });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /bob has a quota, which a server on .* cannot count/);
});
