import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree, filesExceptLocks } from '../helpers/fileTree.js';
import { HINDSIGHT_BIN, SERVER_PASSWORD, cleanEnv, startHindsightServer } from '../helpers/hindsightServer.js';
import { tempDir } from '../helpers/tempDir.js';

const RESTIC = '/usr/bin/restic';
const resticMissing = existsSync(RESTIC) ? false : `restic not installed (${RESTIC} missing; apt-get install restic)`;

function restic(args: string[], env: Record<string, string>) {
  const result = spawnSync(RESTIC, args, { env: cleanEnv({ RESTIC_PASSWORD: 'restic pw', ...env }), encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, both: `${result.stdout}\n${result.stderr}` };
}

function hindsight(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [HINDSIGHT_BIN, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, both: `${result.stdout}\n${result.stderr}` };
}

test('restic 0.14 against hindsight server over HTTPS (HTTP/2): init, backup, check --read-data, restore byte for byte; forget --prune refused for an append-only user, done by an admin', { skip: resticMissing }, async (t) => {
  const server = await startHindsightServer(t, { args: ['--tls-self-signed'], users: [{ name: 'alice', args: ['--append-only'] }, { name: 'root', args: ['--admin'] }] });
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  // restic 0.14 keeps a link target as a string: one that is not UTF-8 comes back changed (restic's limit, not the server's).
  await rm(join(source, 'links', 'odd-target'));
  await writeFile(join(source, 'big.bin'), seededBytes('big', 5 * 1024 * 1024 + 3));
  const certificate = join(server.data, '.hindsight-server', 'tls-cert.pem');
  const location = (user: string) => `rest:https://${user}:${encodeURIComponent(SERVER_PASSWORD)}@127.0.0.1:${server.port}/alice/restic`;
  const as = (user: string) => ({ RESTIC_REPOSITORY: location(user), RESTIC_CACHE_DIR: join(dir, `cache-${user}`) });
  const common = ['--cacert', certificate];

  const init = restic([...common, 'init'], as('alice'));
  assert.equal(init.status, 0, init.both);
  const first = restic([...common, 'backup', source], as('alice'));
  assert.equal(first.status, 0, first.both);
  await writeFile(join(source, 'big.bin'), seededBytes('big 2', 3 * 1024 * 1024));
  const second = restic([...common, 'backup', source], as('alice'));
  assert.equal(second.status, 0, second.both);
  const check = restic([...common, 'check', '--read-data'], as('alice'));
  assert.equal(check.status, 0, check.both);
  assert.match(check.stdout, /no errors were found/);
  const target = join(dir, 'restored');
  const restored = restic([...common, 'restore', 'latest', '--target', target], as('alice'));
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(join(target, source)), await describeTree(source));

  // The append-only user cannot forget or prune: restic fails and nothing but locks changed.
  const repository = join(server.data, 'alice', 'restic');
  const before = await filesExceptLocks(repository);
  const refused = restic([...common, 'forget', '--keep-last', '1', '--prune'], as('alice'));
  assert.notEqual(refused.status, 0, refused.both);
  assert.match(refused.both, /403|Forbidden/);
  assert.deepEqual(await filesExceptLocks(repository), before);
  assert.equal(JSON.parse(restic([...common, 'snapshots', '--json'], as('alice')).stdout).length, 2);

  // An admin can (the same repository, another login).
  const pruned = restic([...common, 'forget', '--keep-last', '1', '--prune'], as('root'));
  assert.equal(pruned.status, 0, pruned.both);
  assert.equal(JSON.parse(restic([...common, 'snapshots', '--json'], as('root')).stdout).length, 1);
  const after = restic([...common, 'check', '--read-data'], as('alice'));
  assert.equal(after.status, 0, after.both);
  await server.waitForLog(/alice@127\.0\.0\.1 DELETE \/alice\/restic\/snapshots\/[0-9a-f]{64}: 403 append-only/);
});

test('hindsight against hindsight server over HTTPS with --rest-cacert: a full cycle byte for byte; as an append-only user, backups go on while forget and prune fail with a clear line and change nothing', async (t) => {
  const server = await startHindsightServer(t, { args: ['--tls-self-signed'], users: [{ name: 'alice', args: ['--append-only'] }, { name: 'root', args: ['--admin'] }] });
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 30 });
  const certificate = join(server.data, '.hindsight-server', 'tls-cert.pem');
  const url = `rest:${server.url}/alice/laptop`;
  const as = (user: string) => ({ HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, `cache-${user}`), HINDSIGHT_REST_USERNAME: user, HINDSIGHT_REST_PASSWORD: SERVER_PASSWORD });
  const options = ['--repo', url, '--rest-cacert', certificate];

  assert.equal(hindsight(['init', ...options, '--pack-size', '256KiB'], as('alice')).status, 0);
  for (let i = 0; i < 3; i++) {
    await writeFile(join(source, 'changing.bin'), seededBytes(`generation ${i}`, 700_000));
    const backedUp = hindsight(['backup', ...options, source], as('alice'));
    assert.equal(backedUp.status, 0, backedUp.both);
  }
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', ...options, `latest:${source}`, '--target', target], as('alice')).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));

  const repository = join(server.data, 'alice', 'laptop');
  const stored = await filesExceptLocks(repository);
  const forget = hindsight(['forget', ...options, '--keep-last', '1'], as('alice'));
  assert.equal(forget.status, 1, forget.both);
  assert.match(forget.stderr, /refused to delete snapshots\/[0-9a-f]{64} \(HTTP 403\): it is append-only \(or this user may not delete\)\. Backups still work; run forget and prune where deletes are allowed, such as on the server itself\./);
  assert.deepEqual(await filesExceptLocks(repository), stored, 'nothing deleted');

  // The admin forgets (the same repository, another login); the append-only user's prune, which now
  // has packs to delete, is refused before it writes anything.
  assert.equal(hindsight(['forget', ...options, '--keep-last', '1'], as('root')).status, 0);
  const forgotten = await filesExceptLocks(repository);
  const prune = hindsight(['prune', ...options], as('alice'));
  assert.equal(prune.status, 1, prune.both);
  assert.match(prune.stderr, /refused to delete data\/[0-9a-f]{64} \(HTTP 403\): it is append-only/);
  assert.deepEqual(await filesExceptLocks(repository), forgotten, 'nothing deleted or written');
  const check = hindsight(['check', ...options, '--read-data'], as('alice'));
  assert.equal(check.status, 0, check.both);

  // The admin prunes; it checks clean after.
  const pruned = hindsight(['prune', ...options], as('root'));
  assert.equal(pruned.status, 0, pruned.both);
  assert.ok((await filesExceptLocks(repository)).length < stored.length, 'prune removed packs');
  assert.equal(hindsight(['check', ...options, '--read-data'], as('alice')).status, 0);
  assert.match(hindsight(['snapshots', ...options], as('alice')).stdout, /^1 snapshot$/m);
});

test('hindsight server prune --user NAME --keep-…: forget --prune on each of an append-only user\'s repositories, on the server\'s folders', async (t) => {
  const server = await startHindsightServer(t, { users: [{ name: 'alice', args: ['--append-only'] }] });
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 10 });
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: 'alice', HINDSIGHT_REST_PASSWORD: SERVER_PASSWORD };
  for (const repo of ['laptop', 'phone']) {
    const url = `rest:${server.url}/alice/${repo}`;
    assert.equal(hindsight(['init', '--repo', url, '--pack-size', '256KiB'], env).status, 0);
    for (let i = 0; i < 3; i++) {
      await writeFile(join(source, 'changing.bin'), seededBytes(`${repo} ${i}`, 500_000));
      assert.equal(hindsight(['backup', '--repo', url, source], env).status, 0);
    }
  }
  const before = await filesExceptLocks(join(server.data, 'alice'));
  const pruned = hindsight(['server', 'prune', '--data', server.data, '--user', 'alice', '--keep-last', '1'], { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'server-cache') });
  assert.equal(pruned.status, 0, pruned.both);
  assert.match(pruned.stdout, /^Repository alice\/laptop:$/m);
  assert.match(pruned.stdout, /^Repository alice\/phone:$/m);
  assert.ok((await filesExceptLocks(join(server.data, 'alice'))).length < before.length, 'packs and snapshots removed');
  for (const repo of ['laptop', 'phone']) {
    const url = `rest:${server.url}/alice/${repo}`;
    assert.match(hindsight(['snapshots', '--repo', url], env).stdout, /^1 snapshot$/m);
    assert.equal(hindsight(['check', '--repo', url, '--read-data'], env).status, 0);
  }
  const noUser = hindsight(['server', 'prune', '--data', server.data, '--user', 'nobody', '--keep-last', '1'], {});
  assert.equal(noUser.status, 2);
  assert.match(noUser.stderr, /There is no user "nobody"/);
});

test('hindsight with --rest-fingerprint pins hindsight server\'s self-signed certificate: a full cycle byte for byte; a wrong pin is refused before anything is sent', async (t) => {
  const server = await startHindsightServer(t, { args: ['--tls-self-signed'] });
  const pin = server.fingerprint as string;
  assert.match(pin, /^SHA256:([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 20 });
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: 'alice', HINDSIGHT_REST_PASSWORD: SERVER_PASSWORD };
  const url = `rest:${server.url}/alice/pinned`;
  const options = ['--repo', url, '--rest-fingerprint', pin];
  assert.equal(hindsight(['init', ...options, '--pack-size', '256KiB'], env).status, 0);
  const backedUp = hindsight(['backup', ...options, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', ...options, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
  // The same pin in lower case and without "SHA256:" is the same pin.
  assert.equal(hindsight(['check', '--repo', url, '--rest-fingerprint', pin.slice('SHA256:'.length).toLowerCase()], env).status, 0);

  const wrongPin = `SHA256:${'AB:'.repeat(31)}AB`;
  const refused = hindsight(['snapshots', '--repo', url, '--rest-fingerprint', wrongPin], env);
  assert.equal(refused.status, 1, refused.both);
  assert.match(refused.stderr, new RegExp(`is not the one pinned \\(with --rest-fingerprint, or confirmed in the app\\): its certificate has the fingerprint ${pin}\\. Nothing was sent\\.`));
  const malformed = hindsight(['snapshots', '--repo', url, '--rest-fingerprint', 'SHA256:12:34'], env);
  assert.equal(malformed.status, 2);
  assert.match(malformed.stderr, /--rest-fingerprint takes a SHA-256 fingerprint/);
});

test('plan add --rest-fingerprint keeps the pin as the target\'s setting (not in the location): the agent\'s backup reaches hindsight server through it, a wrong pin fails the plan\'s backup clearly; a target option no target takes is refused', async (t) => {
  const server = await startHindsightServer(t, { args: ['--tls-self-signed'] });
  const pin = server.fingerprint as string;
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 10 });
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_DATA_DIR: join(dir, 'agent'), HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: 'alice', HINDSIGHT_REST_PASSWORD: SERVER_PASSWORD };
  const url = `rest:${server.url}/alice/planned`;
  assert.equal(hindsight(['init', '--repo', url, '--rest-fingerprint', pin], env).status, 0);
  // The pin in lower case without "SHA256:" is kept as the server prints it.
  const added = hindsight(['plan', 'add', '--name', 'laptop', '--repo', url, '--rest-fingerprint', pin.slice(7).toLowerCase(), source], env);
  assert.equal(added.status, 0, added.both);
  const [plan] = JSON.parse(hindsight(['plan', 'list', '--json'], env).stdout) as { targets: string[]; targetSettings: Record<string, unknown> }[];
  assert.deepEqual(plan?.targets, [url]);
  assert.deepEqual(plan?.targetSettings, { [url]: { restFingerprint: pin } });
  const ran = hindsight(['plan', 'run', 'laptop'], env);
  assert.equal(ran.status, 0, ran.both);
  assert.equal(hindsight(['check', '--repo', url, '--rest-fingerprint', pin, '--read-data'], env).status, 0);

  const wrongPin = `SHA256:${'CD:'.repeat(31)}CD`;
  const other = `rest:${server.url}/alice/other`;
  const refusedAdd = hindsight(['plan', 'add', '--name', 'wrong', '--repo', other, '--rest-fingerprint', wrongPin, source], env);
  assert.equal(refusedAdd.status, 1, refusedAdd.both);
  assert.match(refusedAdd.stderr, new RegExp(`is not the one pinned .*its certificate has the fingerprint ${pin}\\. Nothing was sent\\.`));

  const misplaced = hindsight(['plan', 'add', '--name', 'x', '--repo', url, '--azure-endpoint', 'http://127.0.0.1:1/a', source], env);
  assert.equal(misplaced.status, 2, misplaced.both);
  assert.match(misplaced.stderr, /--azure-endpoint is for azure: targets, and none of this plan's targets is one\./);
});
