import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AzureBackend } from '../../src-main/engine/backend/azureBackend.js';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { AZURITE_KEY, startAzurite } from '../helpers/azureServer.js';
import { collect } from '../helpers/backendContract.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../helpers/fileTree.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

/** The CLI with only `env`'s Hindsight and Azure settings: none leak in from the test's own environment. */
function hindsight(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_') && !k.startsWith('AZURE_')));
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...clean, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, both: `${result.stdout}\n${result.stderr}`, last: result.stderr.trim().split('\n').at(-1) };
}

test('hindsight over azure: (Azurite): init creates the container, backup, restore byte for byte, check --read-data; azure://ACCOUNT/… names the same repository; the key is shown nowhere', async (t) => {
  const server = await startAzurite(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  await writeFile(join(source, 'big.bin'), seededBytes('big', 3 * 1024 * 1024 + 11));
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), AZURE_STORAGE_CONNECTION_STRING: server.connectionString };
  const repo = 'azure:backups/laptop';

  const init = hindsight(['init', '--repo', repo, '--pack-size', '256KiB'], env);
  assert.equal(init.status, 0, init.both);
  assert.match(init.stdout, /Created repository [0-9a-f]{8} at azure:backups\/laptop/);
  const backedUp = hindsight(['backup', '--repo', repo, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  const target = join(dir, 'restored');
  const restored = hindsight(['restore', '--repo', repo, `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(target), await describeTree(source));
  const check = hindsight(['check', '--repo', repo, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  assert.match(check.stdout, /no errors found/);

  const named = hindsight(['snapshots', '--repo', 'azure://devstoreaccount1/backups/laptop', '--json'], env);
  assert.equal(named.status, 0, named.both);
  assert.equal((JSON.parse(named.stdout) as unknown[]).length, 1);
  for (const run of [init, backedUp, restored, check, named]) assert.ok(!run.both.includes(AZURITE_KEY), run.both);
});

test('hindsight over azure: a wrong key, a missing container, no credentials and a connection string for another account each fail with one clear line and their exit status', async (t) => {
  const server = await startAzurite(t);
  const dir = await tempDir(t);
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), AZURE_STORAGE_CONNECTION_STRING: server.connectionString };
  assert.equal(hindsight(['init', '--repo', 'azure:kept/x'], env).status, 0);

  const wrongKey = Buffer.alloc(64, 7).toString('base64');
  const wrong = hindsight(['snapshots', '--repo', 'azure:kept/x'], { ...env, AZURE_STORAGE_CONNECTION_STRING: server.connectionString.replace(AZURITE_KEY, wrongKey) });
  assert.equal(wrong.status, 1, wrong.both);
  assert.match(wrong.last ?? '', /^hindsight: azure:kept\/x refused the account key of the storage account "devstoreaccount1" \(\w+\): check AZURE_STORAGE_KEY \(or the AccountKey of AZURE_STORAGE_CONNECTION_STRING\)\./);
  assert.ok(!wrong.both.includes(wrongKey));

  const missing = hindsight(['snapshots', '--repo', 'azure:not-there/x'], env);
  assert.equal(missing.status, 10, missing.both);
  assert.equal(missing.last, 'hindsight: The container "not-there" does not exist in the storage account "devstoreaccount1". Check the repository location, or create it with "hindsight init".');

  const none = hindsight(['snapshots', '--repo', 'azure:kept/x'], { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') });
  assert.equal(none.status, 1, none.both);
  assert.equal(none.last, 'hindsight: No Azure Storage credentials found: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN.');

  const other = hindsight(['snapshots', '--repo', 'azure://someone/kept/x'], env);
  assert.equal(other.status, 2, other.both);
  assert.match(other.last ?? '', /^hindsight: AZURE_STORAGE_CONNECTION_STRING is for the account "devstoreaccount1", but the location names "someone"/);

  const badName = hindsight(['snapshots', '--repo', 'azure:Bad_Name/x'], env);
  assert.equal(badName.status, 2, badName.both);
  assert.match(badName.last ?? '', /"Bad_Name" is not a valid Azure container name/);
});

test('Azure beside a local disk: one backup to both, a pack lost on Azure is found by check and put back by repair; copy from Azure seeds a new disk that restores byte for byte', async (t) => {
  const server = await startAzurite(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 30 });
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), AZURE_STORAGE_CONNECTION_STRING: server.connectionString };
  const local = join(dir, 'local');
  const azure = 'azure:mirror/laptop';
  const repos = ['--repo', local, '--repo', azure];
  assert.equal(hindsight(['init', ...repos, '--pack-size', '128KiB'], env).status, 0);
  const backedUp = hindsight(['backup', ...repos, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);

  const remote = new AzureBackend({ ...server.options('laptop', 'mirror') });
  const packs = await collect(remote.list('data'));
  assert.deepEqual(packs.map((p) => p.name).sort(), (await collect(new LocalBackend(local).list('data'))).map((p) => p.name).sort());
  await remote.delete({ type: 'data', name: (packs[0] as { name: string }).name });

  const check = hindsight(['check', ...repos, '--read-data'], env);
  assert.equal(check.status, 13, check.both);
  assert.match(check.stdout, /^target azure:mirror\/laptop: DAMAGED/m);
  const repaired = hindsight(['repair', ...repos], env);
  assert.equal(repaired.status, 0, repaired.both);
  assert.match(repaired.stdout, /azure:mirror\/laptop: 1 missing object copied/);
  assert.equal(hindsight(['check', ...repos, '--read-data'], env).status, 0);

  const seeded = join(dir, 'seeded');
  const copied = hindsight(['copy', '--from', azure, '--to', seeded], env);
  assert.equal(copied.status, 0, copied.both);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', '--repo', seeded, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
});

test('--azure-endpoint with AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY reaches Azurite on the command line, and plan add keeps it as the target\'s setting for the agent\'s backups', async (t) => {
  const server = await startAzurite(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 10 });
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_DATA_DIR: join(dir, 'agent'), AZURE_STORAGE_KEY: AZURITE_KEY };
  const repo = 'azure://devstoreaccount1/planned/laptop';

  const unreachable = hindsight(['init', '--repo', repo], env);
  assert.notEqual(unreachable.status, 0, 'without the endpoint the account is looked for at Azure itself');
  const init = hindsight(['init', '--repo', repo, '--azure-endpoint', server.endpoint], env);
  assert.equal(init.status, 0, init.both);
  const malformed = hindsight(['snapshots', '--repo', repo, '--azure-endpoint', 'devstoreaccount1'], env);
  assert.equal(malformed.status, 2, malformed.both);
  assert.match(malformed.last ?? '', /--azure-endpoint takes the account's blob endpoint as a URL/);

  const added = hindsight(['plan', 'add', '--name', 'azure', '--repo', repo, '--azure-endpoint', server.endpoint, source], env);
  assert.equal(added.status, 0, added.both);
  const [plan] = JSON.parse(hindsight(['plan', 'list', '--json'], env).stdout) as { targetSettings: Record<string, unknown> }[];
  assert.deepEqual(plan?.targetSettings, { [repo]: { azureEndpoint: server.endpoint } });
  const ran = hindsight(['plan', 'run', 'azure'], env);
  assert.equal(ran.status, 0, ran.both);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', '--repo', repo, '--azure-endpoint', server.endpoint, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
});
