import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../src-main/engine/archiver/backup.js';
import { RestBackend } from '../../src-main/engine/backend/restBackend.js';
import { checkRepository } from '../../src-main/engine/maintenance/check.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { restore } from '../../src-main/engine/restorer/restore.js';
import type { Snapshot } from '../../src-main/engine/snapshot/snapshot.js';
import { collect } from '../helpers/backendContract.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../helpers/fileTree.js';
import { HINDSIGHT_BIN, SERVER_PASSWORD, cleanEnv, startHindsightServer } from '../helpers/hindsightServer.js';
import { basicAuth, raw } from '../helpers/rawHttp.js';
import { tempDir } from '../helpers/tempDir.js';
import { FAST_KDF, TEST_PASSWORD } from '../helpers/testRepository.js';

function hindsight(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [HINDSIGHT_BIN, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, both: `${result.stdout}\n${result.stderr}` };
}

/** Names of the files under `folder` (recursively) that start as an unfinished write's do. */
async function temporaryFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile() && entry.name.startsWith('.tmp-')).map((entry) => join(entry.parentPath, entry.name));
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await condition()); await new Promise((resolve) => setTimeout(resolve, 25))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

test('hindsight server quotas: an upload that would pass the quota is refused with 413 and a line saying so; a backup stops with it and the repository checks clean', async (t) => {
  const server = await startHindsightServer(t, { users: [{ name: 'alice', args: ['--quota', '3MiB'] }] });
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 5 });
  await writeFile(join(source, 'big.bin'), seededBytes('big', 4 * 1024 * 1024));
  const url = `rest:${server.url}/alice/laptop`;
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: 'alice', HINDSIGHT_REST_PASSWORD: SERVER_PASSWORD };
  assert.equal(hindsight(['init', '--repo', url, '--pack-size', '256KiB'], env).status, 0);
  const backedUp = hindsight(['backup', '--repo', url, source], env);
  assert.equal(backedUp.status, 1, backedUp.both);
  // What the user holds when refused depends on which upload lands first: big.bin's own pack can go
  // before the small files' packs (205 KiB held, seen in CI) or after them (MiB).
  assert.match(backedUp.stderr, /refused data\/[0-9a-f]{64} \(HTTP 413\): over quota: this user's repositories hold [\d.]+ [KM]iB of the 3\.0 MiB allowed, and data\/[0-9a-f]{12}… \([\d.]+ [KM]iB\) does not fit; forget and prune old snapshots, or ask for a larger quota\./);
  const check = hindsight(['check', '--repo', url, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  let stored = 0;
  for (const entry of await readdir(join(server.data, 'alice'), { recursive: true, withFileTypes: true })) if (entry.isFile()) stored += (await stat(join(entry.parentPath, entry.name))).size;
  assert.ok(stored <= 3 * 1024 * 1024, `${stored} bytes stored, over the quota`);

  // Declared up front: refused before the body is asked for (Expect: 100-continue), or, from a client
  // that sends it at once (restic), with the body read and dropped. Either way the client gets the answer.
  const body = seededBytes('fits not', 2 * 1024 * 1024);
  for (const expectContinue of [true, false]) {
    const refused = await raw(server.port, 'POST', `/alice/other/data/${'ab'.repeat(32)}`, { body, expectContinue });
    assert.equal(refused.status, 413, `expectContinue ${expectContinue}`);
    assert.match(refused.body, /^over quota: /);
  }
  // Hindsight's client with a pack larger than the server reads and drops (64 MiB): it waits for
  // "100 Continue", so it hears the 413 and its line, not a connection reset under the body.
  const remote = new RestBackend(server.options('alice/laptop'));
  t.after(() => remote.close());
  await assert.rejects(remote.write({ type: 'data', name: 'cd'.repeat(32) }, Buffer.alloc(80 * 1024 * 1024)), /refused data\/(cd){32} \(HTTP 413\): over quota: .*80\.0 MiB\) does not fit/);
  // Deleting makes room again.
  assert.equal((await raw(server.port, 'POST', '/alice/other/?create=true')).status, 200);
  for (const pack of await collect(remote.list('data'))) await remote.delete({ type: 'data', name: pack.name });
  assert.equal((await raw(server.port, 'POST', '/alice/other/config', { body })).status, 200, 'room again once packs are deleted');
});

test('hindsight server killed (SIGKILL) during uploads: nothing partial is visible or left after a restart, and the client\'s rerun completes and checks clean', async (t) => {
  const first = await startHindsightServer(t);
  const dir = await tempDir(t);
  // An upload cut off mid-body: the server has begun its temporary file when it dies.
  assert.equal((await raw(first.port, 'POST', '/alice/cut/?create=true')).status, 200);
  const name = 'cd'.repeat(32);
  const upload = request({ host: '127.0.0.1', port: first.port, method: 'POST', path: `/alice/cut/data/${name}`, headers: { Authorization: basicAuth('alice'), 'Content-Length': String(8 * 1024 * 1024) } });
  upload.on('error', () => undefined);
  upload.write(seededBytes('half', 3 * 1024 * 1024));
  await until('the server writing the upload', async () => (await temporaryFiles(join(first.data, 'alice', 'cut'))).length === 1);

  // And a backup in flight.
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 50 });
  await writeFile(join(source, 'large.bin'), seededBytes('large', 24 * 1024 * 1024));
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_REST_USERNAME: 'alice', HINDSIGHT_REST_PASSWORD: SERVER_PASSWORD };
  assert.equal(hindsight(['init', '--repo', `rest:${first.url}/alice/laptop`, '--pack-size', '256KiB'], env).status, 0);
  const client = spawn(process.execPath, [HINDSIGHT_BIN, 'backup', '--repo', `rest:${first.url}/alice/laptop`, source], { env: cleanEnv(env), stdio: 'ignore' });
  const clientExit = new Promise<number | null>((resolve) => client.once('exit', resolve));
  const packs = join(first.data, 'alice', 'laptop', 'data');
  await until('a few packs stored', async () => (await readdir(packs, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile() && !entry.name.startsWith('.')).length >= 4);
  await first.stop('SIGKILL');
  upload.destroy();
  assert.notEqual(await clientExit, 0, 'the backup fails with its server gone');
  assert.ok((await temporaryFiles(join(first.data, 'alice'))).length >= 1, 'the cut-off upload left its temporary file');

  const second = await startHindsightServer(t, { data: first.data });
  assert.match(second.output(), /Removed \d+ unfinished uploads? \([\d.]+ \w+\) left by an earlier stop\./);
  assert.deepEqual(await temporaryFiles(join(first.data, 'alice')), []);
  assert.equal((await raw(second.port, 'HEAD', `/alice/cut/data/${name}`)).status, 404, 'the cut-off object is not there');
  assert.deepEqual(JSON.parse((await raw(second.port, 'GET', '/alice/cut/data/', { headers: { Accept: 'application/vnd.x.restic.rest.v2' } })).body), []);

  const url = `rest:${second.url}/alice/laptop`;
  const rerun = hindsight(['backup', '--repo', url, source], env);
  assert.equal(rerun.status, 0, rerun.both);
  const check = hindsight(['check', '--repo', url, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', '--repo', url, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
});

test('hindsight server: ten clients backing up at once, each to its own repository, and two more to one shared repository; nothing lost, every check clean', async (t) => {
  const server = await startHindsightServer(t);
  const dir = await tempDir(t);
  const sources: string[] = [];
  for (let i = 0; i < 12; i++) {
    const source = join(dir, `source-${i}`);
    await buildAwkwardTree(source, { smallFiles: 10 });
    await writeFile(join(source, 'own.bin'), seededBytes(`client ${i}`, 1024 * 1024 + i));
    sources.push(source);
  }
  const open = (path: string) => new RestBackend(server.options(path));
  const shared = await Repository.init(open('alice/shared'), { password: TEST_PASSWORD, kdf: FAST_KDF, packSize: 256 * 1024 });
  await shared.close();
  const runs = sources.map(async (source, i) => {
    const repository = i < 10 ? await Repository.init(open(`alice/client-${i}`), { password: TEST_PASSWORD, kdf: FAST_KDF, packSize: 256 * 1024 }) : await Repository.open(open('alice/shared'), TEST_PASSWORD);
    try {
      return (await backup(repository, { paths: [source], cacheDir: join(dir, `cache-${i}`), workers: 1 })).snapshot;
    } finally {
      await repository.close();
    }
  });
  const snapshots = await Promise.all(runs);

  for (let i = 0; i < 12; i++) {
    const repository = await Repository.open(open(i < 10 ? `alice/client-${i}` : 'alice/shared'), TEST_PASSWORD);
    try {
      const check = await checkRepository(repository, { readData: { kind: 'all' } });
      assert.deepEqual(check.errors, [], `client ${i}`);
      const target = join(dir, `restored-${i}`);
      const result = await restore(repository, { snapshot: snapshots[i] as Snapshot, path: sources[i] as string, target });
      assert.deepEqual(result.problems, []);
      assertSameTree(await describeTree(target), await describeTree(sources[i] as string));
    } finally {
      await repository.close();
    }
  }
  assert.equal(server.process.exitCode, null);
});
