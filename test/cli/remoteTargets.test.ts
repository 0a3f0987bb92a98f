import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { objectPath } from '../../src-main/engine/backend/backend.js';
import { flipBit, seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../helpers/fileTree.js';
import { S3_CREDENTIALS, startS3Server } from '../helpers/s3Server.js';
import { sshdMissing, startSshServer, type SshServer } from '../helpers/sshServer.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
const skipSsh = sshdMissing() ?? false;

function environment(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_') && !k.startsWith('AWS_') && k !== 'SSH_AUTH_SOCK'));
  return { ...clean, ...env };
}

function hindsight(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [bin, ...args], { env: environment(env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, both: `${result.stdout}\n${result.stderr}` };
}

function sftpArgs(server: SshServer, folder: string): { url: string; options: string[] } {
  return { url: `sftp://${server.username}@127.0.0.1:${server.port}${folder}`, options: ['--ssh-key', server.userKey, '--known-hosts', server.knownHosts] };
}

async function packsIn(folder: string): Promise<string[]> {
  const entries = await readdir(join(folder, 'data'), { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => /[0-9a-f]{64}$/.test(e)).map((e) => e.slice(-64)).sort();
}

test('hindsight over sftp://: init, backup, restore byte for byte, check --read-data; an unknown host is refused until accepted', { skip: skipSsh }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  const { url, options } = sftpArgs(server, join(server.dir, 'repo'));
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };

  const emptyKnownHosts = join(dir, 'known_hosts');
  const unknown = hindsight(['init', '--repo', url, '--ssh-key', server.userKey, '--known-hosts', emptyKnownHosts], env);
  assert.equal(unknown.status, 1, unknown.both);
  assert.match(unknown.stderr, /is not in .*known_hosts, so Hindsight cannot tell it is the right server\. Its key is ssh-ed25519 SHA256:\S+\. .*--accept-new-host-key/);
  const accepted = hindsight(['snapshots', '--repo', url, '--ssh-key', server.userKey, '--known-hosts', emptyKnownHosts, '--accept-new-host-key'], env);
  assert.match(accepted.stderr, /The folder \S+ does not exist on 127\.0\.0\.1/, 'got past the host check');
  assert.match(await readFile(emptyKnownHosts, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 `));

  const wrongKey = hindsight(['init', '--repo', url, '--ssh-key', join(server.dir, 'host_key'), '--known-hosts', server.knownHosts], env);
  assert.equal(wrongKey.status, 1);
  assert.match(wrongKey.stderr, /refused to log in .* Add the public key to ~\/\.ssh\/authorized_keys/);

  const init = hindsight(['init', '--repo', url, ...options, '--pack-size', '256KiB'], env);
  assert.equal(init.status, 0, init.both);
  assert.match(init.stdout, new RegExp(`Created repository [0-9a-f]{8} at sftp://${server.username}@127\\.0\\.0\\.1:${server.port}/`));
  const backedUp = hindsight(['backup', '--repo', url, ...options, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  const target = join(dir, 'restored');
  const restored = hindsight(['restore', '--repo', url, ...options, `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(target), await describeTree(source));
  const check = hindsight(['check', '--repo', url, ...options, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  assert.match(check.stdout, /no errors found/);
});

/** Waits until `ready()` holds (output from a process), or fails after `ms` saying what was seen. */
async function until(ready: () => boolean, what: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out; output so far: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const skipScript = spawnSync('script', ['--version']).status === 0 ? false : 'script (util-linux) is not installed: it gives the CLI a terminal';

test('an SSH key protected by a passphrase: asked for on a terminal without echo, as ssh does; otherwise the way through ssh-agent', { skip: skipSsh || skipScript }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  const locked = join(dir, 'locked_key');
  await writeFile(locked, await readFile(server.userKey), { mode: 0o600 });
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'open sesame', '-f', locked]);
  const args = ['init', '--repo', `sftp://${server.username}@127.0.0.1:${server.port}${join(server.dir, 'repo')}`, '--ssh-key', locked, '--known-hosts', server.knownHosts];
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };

  const refused = hindsight(args, env);
  assert.equal(refused.status, 1, refused.both);
  assert.match(refused.stderr, /Cannot use the SSH key .*locked_key: it is protected by a passphrase\. Start ssh-agent and run "ssh-add .*locked_key" first, or run Hindsight in a terminal to be asked for the passphrase\./);

  // script(1) runs the CLI on a pseudo-terminal: its standard input and error are a terminal, as for a person.
  const command = [process.execPath, bin, ...args].map((arg) => `'${arg}'`).join(' ');
  const terminal = spawn('script', ['-qec', command, '/dev/null'], { env: environment(env), stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => terminal.kill('SIGKILL'));
  let output = '';
  terminal.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(terminal, 'exit');
  await until(() => output.includes(`Enter passphrase for key '${locked}': `), () => output);
  terminal.stdin.write('not-the-passphrase\r');
  await until(() => output.includes(`Bad passphrase, try again for ${locked}: `), () => output);
  terminal.stdin.write('open sesame\r');
  const [status] = await exited;
  assert.equal(status, 0, output);
  assert.match(output, /Created repository [0-9a-f]{8} at sftp:/);
  assert.doesNotMatch(output, /not-the-passphrase|open sesame/, 'nothing typed is echoed');
});

test('hindsight over s3:http://: credentials from AWS_* variables; init, backup, restore, check', async (t) => {
  const server = await startS3Server(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  const url = `s3:${server.endpoint}/hindsight/laptop`;
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey };
  const noCredentials = hindsight(['init', '--repo', url], { ...env, AWS_ACCESS_KEY_ID: 'WRONG' });
  assert.equal(noCredentials.status, 1);
  assert.match(noCredentials.stderr, /access denied \(HTTP 403\): check the credentials/);
  assert.equal(hindsight(['init', '--repo', url, '--pack-size', '256KiB'], env).status, 0);
  const backedUp = hindsight(['backup', '--repo', url, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', '--repo', url, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
  const check = hindsight(['check', '--repo', url, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
});

test('two targets: damage on one is read around, check names it, repair heals it, check --read-data is clean; copy seeds a third', { skip: skipSsh }, async (t) => {
  const server = await startSshServer(t);
  const s3 = await startS3Server(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  const remoteFolder = join(server.dir, 'repo');
  const { url, options } = sftpArgs(server, remoteFolder);
  const local = join(dir, 'local');
  const repos = ['--repo', url, '--repo', local, ...options];
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey };
  assert.equal(hindsight(['init', ...repos, '--pack-size', '128KiB'], env).status, 0);
  const backedUp = hindsight(['backup', ...repos, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  assert.deepEqual(await packsIn(remoteFolder), await packsIn(local), 'both targets hold the same packs');

  // Damage the SFTP copy: one pack deleted, one with a flipped bit, one index file deleted.
  const packs = await packsIn(remoteFolder);
  await unlink(join(remoteFolder, objectPath({ type: 'data', name: packs[0] as string })));
  const corrupt = join(remoteFolder, objectPath({ type: 'data', name: packs[1] as string }));
  await writeFile(corrupt, flipBit(await readFile(corrupt), 100));
  const [index] = await readdir(join(remoteFolder, 'index'));
  await unlink(join(remoteFolder, 'index', index as string));

  const target = join(dir, 'restored');
  const restored = hindsight(['restore', ...repos, `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(target), await describeTree(source));
  assert.match(restored.stderr, new RegExp(`warning: data/[0-9a-f]+ is (missing|damaged: .*) on sftp://.*; read from ${local} instead`));

  const check = hindsight(['check', ...repos, '--read-data'], env);
  assert.equal(check.status, 13, check.both);
  assert.match(check.stdout, new RegExp(`^target sftp://\\S+: DAMAGED`, 'm'));
  assert.match(check.stdout, new RegExp(`^target ${local}: no errors found`, 'm'));
  assert.match(check.stdout, /lacks 2 objects other targets have \(1 data, 1 index\)/);

  const targets = hindsight(['targets', ...repos], env);
  assert.equal(targets.status, 3);
  assert.match(targets.stdout, /sftp:\S+: behind by 2 objects/);

  const repaired = hindsight(['repair', ...repos], env);
  assert.equal(repaired.status, 0, repaired.both);
  assert.match(repaired.stdout, /sftp:\S+: 2 missing objects copied, 1 damaged object replaced/);
  const clean = hindsight(['check', ...repos, '--read-data'], env);
  assert.equal(clean.status, 0, clean.both);
  assert.equal(clean.stdout.match(/no errors found/g)?.length, 4, clean.stdout);

  const third = `s3:${s3.endpoint}/hindsight/copy`;
  const copied = hindsight(['copy', '--from', local, '--to', third], env);
  assert.equal(copied.status, 0, copied.both);
  assert.match(copied.stdout, /s3:http\S+: \d+ missing objects copied, 0 damaged objects replaced/);
  const all = hindsight(['check', '--repo', url, '--repo', local, '--repo', third, ...options, '--read-data'], env);
  assert.equal(all.status, 0, all.both);
  const fromCopy = join(dir, 'from-copy');
  assert.equal(hindsight(['restore', '--repo', third, `latest:${source}`, '--target', fromCopy], env).status, 0);
  assertSameTree(await describeTree(fromCopy), await describeTree(source));
});

test('the SFTP server stops mid-backup: the backup completes on the other target, which is marked behind, then repaired', { skip: skipSsh }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 20 });
  for (let i = 0; i < 4; i++) await writeFile(join(source, `big${i}.bin`), seededBytes(`big${i}`, 4 * 1024 * 1024));
  const remoteFolder = join(server.dir, 'repo');
  const { url, options } = sftpArgs(server, remoteFolder);
  const local = join(dir, 'local');
  const repos = ['--repo', local, '--repo', url, ...options];
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init', ...repos, '--pack-size', '512KiB'], env).status, 0);

  // 16 MiB at 4 MiB/s: about four seconds, time enough to pull the plug part-way.
  const child = spawn(process.execPath, [bin, 'backup', ...repos, '--limit-upload', '4096', source], { env: environment(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const hung = setTimeout(() => child.kill('SIGKILL'), 120_000);
  t.after(() => clearTimeout(hung));
  while ((await packsIn(remoteFolder)).length < 4) {
    assert.equal(child.exitCode, null, `the backup ended before the server was stopped: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await server.stop();
  const status = await exited;
  assert.equal(status, 3, `${stdout}\n${stderr}`);
  assert.match(stdout, /Snapshot [0-9a-f]{8} saved/);
  assert.match(stderr, /warning: target sftp:\S+ failed .*; continuing on the other targets/);
  assert.match(stderr, /warning: target sftp:\S+ is behind .*run "hindsight repair"/);

  const target = join(dir, 'restored');
  const restored = hindsight(['restore', '--repo', local, `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(target), await describeTree(source));

  await server.start();
  const behind = hindsight(['targets', ...repos, '--json'], env);
  const comparison = JSON.parse(behind.stdout) as { location: string; missing: number; history: { behind: boolean; lastSuccess?: string; lastError?: string } | null }[];
  assert.equal(comparison[0]?.missing, 0);
  assert.ok((comparison[1]?.missing ?? 0) > 0, behind.stdout);
  assert.equal(comparison[0]?.history?.behind, false);
  assert.equal(comparison[1]?.history?.behind, true);
  assert.match(comparison[1]?.history?.lastError ?? '', /refused the connection|connection .* lost/);
  assert.ok(comparison[1]?.history?.lastSuccess, 'it worked before the server stopped');
  const repaired = hindsight(['repair', ...repos], env);
  assert.equal(repaired.status, 0, repaired.both);
  const level = JSON.parse(hindsight(['targets', ...repos, '--json'], env).stdout) as { missing: number; history: { behind: boolean } }[];
  assert.deepEqual(level.map((target) => [target.missing, target.history.behind]), [[0, false], [0, false]]);
  const check = hindsight(['check', ...repos, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  const fromRemote = join(dir, 'from-remote');
  assert.equal(hindsight(['restore', '--repo', url, ...options, `latest:${source}`, '--target', fromRemote], env).status, 0);
  assertSameTree(await describeTree(fromRemote), await describeTree(source));
});
