import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { RestBackend } from '../../src-main/engine/backend/restBackend.js';
import { S3Backend } from '../../src-main/engine/backend/s3Backend.js';
import { collect } from '../helpers/backendContract.js';
import { HINDSIGHT_BIN, cleanEnv, startHindsightServer } from '../helpers/hindsightServer.js';
import { raw } from '../helpers/rawHttp.js';
import { assertRepositoryCycle } from '../helpers/repositoryCycle.js';
import { S3_CREDENTIALS, startS3Server } from '../helpers/s3Server.js';

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

  const status = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'status', '--data', server.data, '--storage', storage], { env: cleanEnv(env), encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /^alice {2}1 {13}\d+ +[\d.]+ [KM]iB +-$/m);
});
