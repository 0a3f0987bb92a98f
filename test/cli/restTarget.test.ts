import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree, filesExceptLocks } from '../helpers/fileTree.js';
import { REST_PASSWORD, REST_USER, rcloneMissing, startRestServer } from '../helpers/restServer.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
const skip = rcloneMissing() ?? false;

function hindsight(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...clean, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, both: `${result.stdout}\n${result.stderr}` };
}

test('hindsight over rest:http://: credentials from HINDSIGHT_REST_*; init, backup, restore byte for byte, check --read-data; a wrong password is refused', { skip }, async (t) => {
  const server = await startRestServer(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  await writeFile(join(source, 'big.bin'), seededBytes('big', 3 * 1024 * 1024 + 11));
  const url = `rest:${server.url}/laptop`;
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: REST_USER, HINDSIGHT_REST_PASSWORD: REST_PASSWORD };

  const wrong = hindsight(['init', '--repo', url], { ...env, HINDSIGHT_REST_PASSWORD: 'guess' });
  assert.equal(wrong.status, 1, wrong.both);
  assert.equal(wrong.stderr.trim().split('\n').at(-1), `hindsight: ${url} refused the user name and password (HTTP 401): check HINDSIGHT_REST_USERNAME and HINDSIGHT_REST_PASSWORD (or the ones in the location).`);

  const init = hindsight(['init', '--repo', url, '--pack-size', '256KiB'], env);
  assert.equal(init.status, 0, init.both);
  assert.match(init.stdout, new RegExp(`Created repository [0-9a-f]{8} at rest:http://127\\.0\\.0\\.1:${server.port}/laptop`));
  const backedUp = hindsight(['backup', '--repo', url, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  const target = join(dir, 'restored');
  const restored = hindsight(['restore', '--repo', url, `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(target), await describeTree(source));
  const check = hindsight(['check', '--repo', url, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  assert.match(check.stdout, /no errors found/);

  // Credentials in the location work too, and are shown nowhere.
  const inUrl = `rest:http://${REST_USER}:${encodeURIComponent(REST_PASSWORD)}@127.0.0.1:${server.port}/laptop`;
  const listed = hindsight(['snapshots', '--repo', inUrl], { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') });
  assert.equal(listed.status, 0, listed.both);
  assert.ok(!listed.both.includes(REST_PASSWORD) && !listed.both.includes(encodeURIComponent(REST_PASSWORD)), listed.both);
});

test('an append-only REST server: backups go on; forget and prune fail with a clear message, and the repository stays whole', { skip }, async (t) => {
  const open = await startRestServer(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 20 });
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: REST_USER, HINDSIGHT_REST_PASSWORD: REST_PASSWORD };
  const openUrl = `rest:${open.url}/kept`;
  assert.equal(hindsight(['init', '--repo', openUrl, '--pack-size', '256KiB'], env).status, 0);
  // Generations that each replace a big file, then a forget where deletes are allowed: prune has packs to drop.
  for (let i = 0; i < 3; i++) {
    await writeFile(join(source, 'changing.bin'), seededBytes(`g${i}`, 600_000));
    assert.equal(hindsight(['backup', '--repo', openUrl, source], env).status, 0);
  }
  assert.equal(hindsight(['forget', '--repo', openUrl, '--keep-last', '2'], env).status, 0);
  await open.stop();

  const server = await startRestServer(t, { appendOnly: true, directory: open.directory });
  const url = `rest:${server.url}/kept`;
  await writeFile(join(source, 'changing.bin'), seededBytes('g3', 600_000));
  const backedUp = hindsight(['backup', '--repo', url, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  const stored = await filesExceptLocks(server.directory);

  const appendOnly = /\(HTTP 403\): it is append-only \(or this user may not delete\)\. Backups still work; run forget and prune where deletes are allowed, such as on the server itself\.$/;
  const forget = hindsight(['forget', '--repo', url, '--keep-last', '1'], env);
  assert.equal(forget.status, 1, forget.both);
  assert.match(forget.stderr.trim(), new RegExp(`^hindsight: The server at ${url.replace(/[.:/]/g, '\\$&')} refused to delete snapshots/[0-9a-f]{64} ${appendOnly.source}`));
  const prune = hindsight(['prune', '--repo', url], env);
  assert.equal(prune.status, 1, prune.both);
  assert.match(prune.stderr.trim(), new RegExp(`refused to delete data/[0-9a-f]{64} ${appendOnly.source}`));
  assert.deepEqual(await filesExceptLocks(server.directory), stored, 'forget and prune neither deleted nor wrote anything (locks come and go)');

  const snapshots = hindsight(['snapshots', '--repo', url], env);
  assert.match(snapshots.stdout, /^3 snapshots$/m);
  const check = hindsight(['check', '--repo', url, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  const target = join(dir, 'restored');
  const restored = hindsight(['restore', '--repo', url, `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(target), await describeTree(source));
});

test('rest:https:// to a server with a self-signed certificate: refused with the way out, which --rest-cacert then takes', { skip }, async (t) => {
  const server = await startRestServer(t, { tls: true });
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 5 });
  const url = `rest:${server.url}/secure`;
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: REST_USER, HINDSIGHT_REST_PASSWORD: REST_PASSWORD };
  const untrusted = hindsight(['init', '--repo', url], env);
  assert.equal(untrusted.status, 1, untrusted.both);
  assert.match(untrusted.stderr, /has a TLS certificate Hindsight cannot trust \(\w+\)\. If it is your own server with a self-signed certificate, give that certificate \(or its CA's\) with --rest-cacert FILE\./);
  const missing = hindsight(['init', '--repo', url, '--rest-cacert', join(dir, 'no-such.pem')], env);
  assert.equal(missing.status, 2, missing.both);
  assert.match(missing.stderr, /Cannot read the certificate file .*no-such\.pem given with --rest-cacert/);
  const options = ['--repo', url, '--rest-cacert', server.certificate as string];
  assert.equal(hindsight(['init', ...options], env).status, 0);
  const backedUp = hindsight(['backup', ...options, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', ...options, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
});
