import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { seededBytes } from '../helpers/data.js';
import { HINDSIGHT_BIN, cleanEnv, startHindsightServer } from '../helpers/hindsightServer.js';
import { basicAuth, raw } from '../helpers/rawHttp.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('hindsight server tokens: POST /login gives a short-lived JWT usable as a Bearer token; tampered, expired or outdated tokens get 401; a token cannot mint another', async (t) => {
  const server = await startHindsightServer(t, { users: [{ name: 'alice' }, { name: 'bob' }] });
  const { port } = server;
  const keyFile = join(server.data, '.hindsight-server', 'token-key');
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);

  const login = await raw(port, 'POST', '/login');
  assert.equal(login.status, 200);
  const { token, tokenType, expires } = JSON.parse(login.body) as { token: string; tokenType: string; expires: string };
  assert.equal(tokenType, 'Bearer');
  const lifetime = new Date(expires).getTime() - Date.now();
  assert.ok(lifetime > 14 * 60_000 && lifetime <= 15 * 60_000, `${lifetime} ms`);
  assert.equal((await raw(port, 'POST', '/login', { headers: { Authorization: basicAuth('alice', 'wrong') } })).status, 401);

  const bearer = (value: string) => ({ headers: { Authorization: `Bearer ${value}` } });
  assert.equal((await raw(port, 'POST', '/alice/r/?create=true', bearer(token))).status, 200);
  const key = seededBytes('key', 500);
  assert.equal((await raw(port, 'POST', `/alice/r/keys/${sha256(key)}`, { ...bearer(token), body: key })).status, 200);
  assert.equal((await raw(port, 'GET', '/bob/r/keys/', bearer(token))).status, 403, 'a token is its user\'s, with their tenancy');
  assert.equal((await raw(port, 'POST', '/login', bearer(token))).status, 403, 'a token does not mint a longer-lived one');

  const [header, payload, signature] = token.split('.') as [string, string, string];
  const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'AB' : 'AA'}`;
  const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'bob' })).toString('base64url');
  const secret = new Uint8Array(await readFile(keyFile));
  const expired = await new SignJWT({ pwd: JSON.parse(Buffer.from(payload, 'base64url').toString()).pwd }).setProtectedHeader({ alg: 'HS256' }).setIssuer('hindsight-server').setSubject('alice').setIssuedAt(Math.floor(Date.now() / 1000) - 3600).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(secret);
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
  for (const bad of [flipped, `${header}.${forgedPayload}.${signature}`, expired, none, 'garbage']) {
    const answer = await raw(port, 'GET', '/alice/r/keys/', bearer(bad));
    assert.equal(answer.status, 401, bad);
  }
  await server.waitForLog(/401 an access token that is expired, tampered with or no longer valid/);

  // A new password ends the tokens given before it.
  assert.equal(spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'user', 'passwd', 'alice', '--data', server.data], { env: cleanEnv({ HINDSIGHT_SERVER_PASSWORD: 'new one' }) }).status, 0);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await raw(port, 'GET', '/alice/r/keys/', bearer(token))).status, 401);
});

test('hindsight server GET /metrics (admin only, Prometheus text) and "server status" give each user\'s repositories, objects, bytes and quota', async (t) => {
  const server = await startHindsightServer(t, { users: [{ name: 'alice', args: ['--quota', '10MiB'] }, { name: 'root', args: ['--admin'] }] });
  const { port } = server;
  assert.equal((await raw(port, 'POST', '/alice/one/?create=true')).status, 200);
  assert.equal((await raw(port, 'POST', '/alice/two/?create=true')).status, 200);
  const objects = [seededBytes('a', 1000), seededBytes('b', 20_000), seededBytes('c', 300_000)];
  for (const [i, bytes] of objects.entries()) assert.equal((await raw(port, 'POST', `/alice/${i === 0 ? 'one' : 'two'}/index/${sha256(bytes)}`, { body: bytes })).status, 200);
  assert.equal((await raw(port, 'DELETE', `/alice/two/index/${sha256(objects[1] as Buffer)}`)).status, 200);

  assert.equal((await raw(port, 'GET', '/metrics')).status, 403, 'alice is no admin');
  const metrics = await raw(port, 'GET', '/metrics', { headers: { Authorization: basicAuth('root') } });
  assert.equal(metrics.status, 200);
  assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.body, /^hindsight_server_user_bytes\{user="alice"\} 301000$/m);
  assert.match(metrics.body, /^hindsight_server_user_objects\{user="alice"\} 2$/m);
  assert.match(metrics.body, /^hindsight_server_user_repositories\{user="alice"\} 2$/m);
  assert.match(metrics.body, /^hindsight_server_user_quota_bytes\{user="alice"\} 10485760$/m);
  assert.match(metrics.body, /^hindsight_server_requests_total\{method="POST",status="200"\} 5$/m);
  assert.match(metrics.body, /^# TYPE hindsight_server_failed_logins_total counter$/m);

  const status = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'status', '--data', server.data], { env: cleanEnv(), encoding: 'utf8' });
  assert.equal(status.status, 0, status.stderr);
  assert.equal(status.stdout, 'USER   REPOSITORIES  OBJECTS  SIZE       QUOTA\nalice  2             2        293.9 KiB  10.0 MiB (3% used)\nroot   0             0        0 B        -\n');
});
