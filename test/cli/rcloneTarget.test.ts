import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../helpers/fileTree.js';
import { rcloneRemote } from '../helpers/rcloneRemote.js';
import { RCLONE, REST_PASSWORD, REST_USER, rcloneMissing, startRestServer } from '../helpers/restServer.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
const skip = rcloneMissing() ?? false;

function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_') && !k.startsWith('RCLONE_')));
  return { ...clean, ...env };
}

function hindsight(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [bin, ...args], { env: cleanEnv(env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, both: `${result.stdout}\n${result.stderr}` };
}

/** An rclone that says where it runs: a script that writes its process id to `pidFile`, then becomes rclone. */
async function traceableRclone(dir: string): Promise<{ program: string; pid: () => Promise<number> }> {
  const program = join(dir, 'rclone-traced');
  const pidFile = join(dir, 'rclone.pid');
  await writeFile(program, `#!/bin/sh\necho $$ > '${pidFile}'\nexec ${RCLONE} "$@"\n`);
  await chmod(program, 0o755);
  return { program, pid: async () => Number((await readFile(pidFile, 'utf8')).trim()) };
}

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

test('hindsight over rclone:REMOTE:PATH with the remote from RCLONE_CONFIG: init, backup, restore byte for byte, check --read-data; rclone ends with each command', { skip }, async (t) => {
  const remote = await rcloneRemote(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  await writeFile(join(source, 'big.bin'), seededBytes('big', 3 * 1024 * 1024 + 11));
  const rclone = await traceableRclone(dir);
  const location = `rclone:${remote.name}:laptop`;
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), RCLONE_CONFIG: remote.config, HINDSIGHT_RCLONE_PROGRAM: rclone.program };

  const init = hindsight(['init', '--repo', location, '--pack-size', '256KiB'], env);
  assert.equal(init.status, 0, init.both);
  assert.match(init.stdout, /Created repository [0-9a-f]{8} at rclone:backups:laptop/);
  assert.ok(gone(await rclone.pid()), 'init left no rclone behind');
  const backedUp = hindsight(['backup', '--repo', location, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);
  assert.ok((await readdir(join(remote.directory, 'laptop', 'data'))).length > 0, 'packs are in the remote, filed as a repository folder');
  const target = join(dir, 'restored');
  const restored = hindsight(['restore', '--repo', location, `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.both);
  assertSameTree(await describeTree(target), await describeTree(source));
  const check = hindsight(['check', '--repo', location, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  assert.match(check.stdout, /no errors found/);
  assert.ok(gone(await rclone.pid()), 'check left no rclone behind');

  // --rclone-args replaces what rclone runs; here it names the config file itself.
  const { RCLONE_CONFIG: _, ...withoutConfig } = env;
  const listed = hindsight(['snapshots', '--repo', location, '--rclone-args', `serve restic --stdio --config '${remote.config}'`], withoutConfig);
  assert.equal(listed.status, 0, listed.both);
  assert.match(listed.stdout, /^1 snapshots?$/m);
});

test('rclone missing, a remote that does not exist, and a wrong --rclone-program each end the command with one clear line', { skip }, async (t) => {
  const remote = await rcloneRemote(t);
  const dir = await tempDir(t);
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), RCLONE_CONFIG: remote.config };
  const lastLine = (stderr: string) => stderr.trim().split('\n').at(-1);

  const noRclone = hindsight(['init', '--repo', 'rclone:backups:x'], { ...env, PATH: dir });
  assert.equal(noRclone.status, 10, noRclone.both);
  assert.equal(noRclone.stderr.trim().split('\n').length, 1, noRclone.stderr);
  assert.equal(lastLine(noRclone.stderr), 'hindsight: rclone is not installed (no "rclone" program on the PATH), and rclone:backups:x needs it: install rclone (apt install rclone, or https://rclone.org/install/), or give its path with --rclone-program.');

  const wrongProgram = hindsight(['snapshots', '--repo', 'rclone:backups:x', '--rclone-program', join(dir, 'rclone')], env);
  assert.equal(wrongProgram.status, 10, wrongProgram.both);
  assert.equal(lastLine(wrongProgram.stderr), `hindsight: The rclone program ${join(dir, 'rclone')} given with --rclone-program does not exist.`);

  const noRemote = hindsight(['init', '--repo', 'rclone:onedrive:backups'], env);
  assert.equal(noRemote.status, 10, noRemote.both);
  assert.equal(noRemote.stderr.trim().split('\n').length, 1, noRemote.stderr);
  assert.equal(lastLine(noRemote.stderr), 'hindsight: rclone has no remote "onedrive" (Failed to create file system for "onedrive:backups": didn\'t find section in config file): list yours with "rclone listremotes", add one with "rclone config".');
});

test('rclone killed mid-backup: the backup fails with one line naming rclone\'s end; a rerun completes, check --read-data is clean, and the restore is byte for byte', { skip }, async (t) => {
  const remote = await rcloneRemote(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 20 });
  for (let i = 0; i < 6; i++) await writeFile(join(source, `big${i}.bin`), seededBytes(`big${i}`, 8 * 1024 * 1024 + i));
  const rclone = await traceableRclone(dir);
  const location = `rclone:${remote.name}:repo`;
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), RCLONE_CONFIG: remote.config, HINDSIGHT_RCLONE_PROGRAM: rclone.program };
  assert.equal(hindsight(['init', '--repo', location, '--pack-size', '512KiB'], env).status, 0);

  const child = spawn(process.execPath, [bin, 'backup', '--repo', location, source], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const ended = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  // Kill rclone once a few packs are up: the backup is under way.
  const data = join(remote.directory, 'repo', 'data');
  let packs = 0;
  for (const deadline = Date.now() + 60_000; packs < 4; ) {
    assert.ok(Date.now() < deadline, 'the backup wrote packs');
    packs = (await readdir(data, { recursive: true }).catch(() => [] as string[])).filter((name) => /[0-9a-f]{64}$/.test(name)).length;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const pid = await rclone.pid();
  process.kill(pid, 'SIGKILL');
  const status = await ended;
  assert.equal(status, 10, stderr);
  const lines = stderr.trim().split('\n');
  assert.match(lines.at(-1) ?? '', /^hindsight: rclone serving rclone:backups:repo was stopped by SIGKILL\. Whatever it was doing did not finish; run the command again\.$/, stderr);
  assert.equal(hindsight(['snapshots', '--repo', location], env).stdout.match(/^0 snapshots$/m)?.length, 1, 'no snapshot was committed');

  const rerun = hindsight(['backup', '--repo', location, source], env);
  assert.equal(rerun.status, 0, rerun.both);
  const check = hindsight(['check', '--repo', location, '--read-data'], env);
  assert.equal(check.status, 0, check.both);
  assert.match(check.stdout, /no errors found/);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', '--repo', location, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
  assert.ok(gone(await rclone.pid()), 'no rclone left running');
});

test('rclone: and rest: targets together: one backup to both, copy --from rclone:… --to rest:… seeds a third that restores byte for byte, repair heals a pack lost on the rclone remote', { skip }, async (t) => {
  const remote = await rcloneRemote(t);
  const rest = await startRestServer(t);
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 20 });
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache'), RCLONE_CONFIG: remote.config, HINDSIGHT_REST_USERNAME: REST_USER, HINDSIGHT_REST_PASSWORD: REST_PASSWORD };
  const viaRclone = `rclone:${remote.name}:laptop`;
  const viaRest = `rest:${rest.url}/laptop`;
  const both = ['--repo', viaRclone, '--repo', viaRest];
  assert.equal(hindsight(['init', ...both, '--pack-size', '256KiB'], env).status, 0);
  const backedUp = hindsight(['backup', ...both, source], env);
  assert.equal(backedUp.status, 0, backedUp.both);

  const seeded = `rest:${rest.url}/seeded`;
  const copied = hindsight(['copy', '--from', viaRclone, '--to', seeded], env);
  assert.equal(copied.status, 0, copied.both);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', '--repo', seeded, `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));

  const shard = (await readdir(join(remote.directory, 'laptop', 'data')))[0] as string;
  const pack = (await readdir(join(remote.directory, 'laptop', 'data', shard)))[0] as string;
  await rm(join(remote.directory, 'laptop', 'data', shard, pack));
  assert.equal(hindsight(['check', '--repo', viaRclone], env).status, 13, 'the lost pack is found');
  const repaired = hindsight(['repair', ...both], env);
  assert.equal(repaired.status, 0, repaired.both);
  const checked = hindsight(['check', '--repo', viaRclone, '--read-data'], env);
  assert.equal(checked.status, 0, checked.both);
});
