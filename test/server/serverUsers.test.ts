import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { RestBackend } from '../../src-main/engine/backend/restBackend.js';
import { collect } from '../helpers/backendContract.js';
import { HINDSIGHT_BIN, SERVER_PASSWORD, addServerUser, cleanEnv, startHindsightServer } from '../helpers/hindsightServer.js';
import { basicAuth, raw } from '../helpers/rawHttp.js';
import { tempDir } from '../helpers/tempDir.js';

function serverCli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('hindsight server user add|list|passwd|remove: Argon2id hashes in a 0600 user file, the password from HINDSIGHT_SERVER_PASSWORD; no users, no server', async (t) => {
  const data = join(await tempDir(t), 'data');
  const none = serverCli(['--data', data, '--listen', '127.0.0.1:0']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /No users yet: add one with "hindsight server user add NAME --data /);

  const added = serverCli(['user', 'add', 'alice', '--data', data, '--quota', '2GiB'], { HINDSIGHT_SERVER_PASSWORD: 'first secret' });
  assert.equal(added.status, 0, added.stderr);
  assert.match(added.stdout, /Added user alice \(repositories under alice\/, quota 2.0 GiB\)/);
  addServerUser(data, { name: 'phone', args: ['--append-only', '--repos', 'family'] });
  addServerUser(data, { name: 'root', args: ['--admin'] });
  const file = join(data, '.hindsight-server', 'users.json');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  assert.ok(!text.includes('first secret') && !text.includes(SERVER_PASSWORD), 'no password in the user file');
  assert.equal((text.match(/"\$argon2id\$v=19\$m=19456,t=2,p=1\$/g) ?? []).length, 3);

  const listed = serverCli(['user', 'list', '--data', data]);
  assert.equal(listed.stdout, 'USER   ACCESS\nalice  repositories under alice/, quota 2.0 GiB\nphone  repositories under family/, append-only\nroot   admin: every repository\n');
  assert.equal(serverCli(['user', 'add', 'alice', '--data', data], { HINDSIGHT_SERVER_PASSWORD: 'x' }).status, 2, 'a user is added once');
  assert.match(serverCli(['user', 'add', '../x', '--data', data], { HINDSIGHT_SERVER_PASSWORD: 'x' }).stderr, /cannot be a user name/);
  assert.match(serverCli(['user', 'add', 'bob', '--data', data]).stderr, /No password given: set HINDSIGHT_SERVER_PASSWORD/);
  assert.equal(serverCli(['user', 'passwd', 'alice', '--data', data], { HINDSIGHT_SERVER_PASSWORD: 'second secret' }).status, 0);
  assert.ok(!(await readFile(file, 'utf8')).includes(text.match(/"passwordHash": "([^"]+)"/)?.[1] as string), 'a new hash');
  assert.equal(serverCli(['user', 'remove', 'root', '--data', data]).status, 0);
  assert.equal(serverCli(['user', 'remove', 'root', '--data', data]).status, 2);
  assert.doesNotMatch(serverCli(['user', 'list', '--data', data]).stdout, /root/);
});

test('hindsight server logins: the same 401 for a wrong password, an unknown user or none; each user only their own repositories (403), an admin all; users added or changed while it runs', async (t) => {
  const server = await startHindsightServer(t, { users: [{ name: 'alice' }, { name: 'bob' }, { name: 'root', args: ['--admin'] }, { name: 'mum', args: ['--repos', 'family'] }, { name: 'dad', args: ['--repos', 'family'] }] });
  const { port } = server;
  const create = (user: string, repo: string) => raw(port, 'POST', `/${repo}/?create=true`, { headers: { Authorization: basicAuth(user) } });
  assert.equal((await create('alice', 'alice/laptop')).status, 200);

  const wrong = await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: basicAuth('alice', 'guess') } });
  const unknown = await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: basicAuth('mallory', 'guess') } });
  const missingRepository = await raw(port, 'GET', '/alice/nothing/keys/', { headers: { Authorization: basicAuth('alice', 'guess') } });
  const nothing = await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: '' } });
  const garbled = await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: 'Basic !!!' } });
  for (const answer of [wrong, unknown, missingRepository, nothing, garbled]) {
    assert.equal(answer.status, 401);
    assert.equal(answer.body, wrong.body);
    assert.equal(answer.headers['www-authenticate'], 'Basic realm="hindsight", charset="UTF-8"');
  }
  await server.waitForLog(/401 a failed login as "mallory"/);
  assert.ok(!server.log().includes('guess'), 'no password in the log');

  // Tenancy: bob may not read or create under alice/, nor at the top; root (admin) may.
  const foreign = await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: basicAuth('bob') } });
  assert.equal(foreign.status, 403);
  assert.match(foreign.body, /this user may use only repositories under bob\//);
  assert.equal((await create('bob', 'alice/evil')).status, 403);
  assert.equal((await create('bob', 'bob')).status, 403, 'the user folder itself is not a repository');
  assert.equal((await create('bob', 'bob/laptop')).status, 200);
  assert.equal((await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: basicAuth('root') } })).status, 200);
  // A shared folder: mum and dad both use family/…, neither alice's.
  assert.equal((await create('mum', 'family/photos')).status, 200);
  assert.equal((await raw(port, 'GET', '/family/photos/keys/', { headers: { Authorization: basicAuth('dad') } })).status, 200);
  assert.equal((await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: basicAuth('dad') } })).status, 403);

  // Through the REST client: a 403 names what the user may use; a wrong password is E_AUTH.
  const bobOnAlice = new RestBackend(server.options('alice/laptop', 'bob'));
  const badPassword = new RestBackend(server.options('alice/laptop', 'alice', 'nope'));
  t.after(() => Promise.all([bobOnAlice.close(), badPassword.close()]));
  await assert.rejects(collect(bobOnAlice.list('keys')), { code: 'E_PERMISSION' });
  await assert.rejects(collect(badPassword.list('keys')), { code: 'E_AUTH' });

  // A user added, and a password changed, while the server runs: no restart.
  addServerUser(server.data, { name: 'carol' });
  const env = cleanEnv({ HINDSIGHT_SERVER_PASSWORD: 'changed secret' });
  assert.equal(spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'user', 'passwd', 'alice', '--data', server.data], { env }).status, 0);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await create('carol', 'carol/new')).status, 200);
  assert.equal((await raw(port, 'GET', '/alice/laptop/keys/')).status, 401, 'the old password no longer works');
  assert.equal((await raw(port, 'GET', '/alice/laptop/keys/', { headers: { Authorization: basicAuth('alice', 'changed secret') } })).status, 200);
});

test('hindsight server: failed logins from one address are held off with 429 after ten a minute, even with the right password then', async (t) => {
  const server = await startHindsightServer(t);
  for (let i = 0; i < 10; i++) assert.equal((await raw(server.port, 'GET', '/alice/r/keys/', { headers: { Authorization: basicAuth('alice', `guess ${i}`) } })).status, 401);
  const held = await raw(server.port, 'GET', '/alice/r/keys/');
  assert.equal(held.status, 429);
  assert.ok(Number(held.headers['retry-after']) > 0 && Number(held.headers['retry-after']) <= 60);
  assert.match(held.body, /too many failed logins/);
  await server.waitForLog(/429 held off after too many failed logins/);
});
