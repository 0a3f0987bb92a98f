import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seededBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * Ctrl-C and SIGTERM sent to real `hindsight` processes in the middle of their work: each stops at a
 * safe point, says so, exits 130, and leaves no lock and no temporary file; the repository checks
 * clean and a rerun completes.
 */

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

function environment(repo: string, cache: string): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  return { ...clean, HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: cache };
}

function run(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `hindsight`, sends `signal` once `ready` resolves, and returns how it ended. */
async function interrupt(args: string[], env: NodeJS.ProcessEnv, signal: NodeJS.Signals, ready: (child: ChildProcess) => Promise<void>) {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await ready(child);
  // Stopped while the signal is queued, so it lands at once when the process continues, mid-work.
  child.kill('SIGSTOP');
  child.kill(signal);
  child.kill('SIGCONT');
  const [status] = await exited;
  return { status, stderr };
}

/** Resolves at the first JSON progress line on the child's standard output. */
function firstProgress(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('"type":"progress"')) resolve();
    });
  });
}

/** Resolves when a lock appears in the repository: the command is under way. */
function lockTaken(repo: string): (child: ChildProcess) => Promise<void> {
  return () =>
    new Promise((resolve) => {
      const watcher = watch(join(repo, 'locks'), () => {
        watcher.close();
        resolve();
      });
    });
}

async function assertNoLocks(repo: string): Promise<void> {
  assert.deepEqual(await readdir(join(repo, 'locks')), [], 'no lock is left');
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String);
}

async function setUp(t: import('node:test').TestContext, packSize = '16MiB') {
  const dir = await tempDir(t);
  const repo = join(dir, 'repo');
  const env = environment(repo, join(dir, 'cache'));
  assert.equal(run(['init', '--pack-size', packSize], env).status, 0);
  const source = join(dir, 'source');
  for (const folder of ['a', 'b']) {
    await mkdir(join(source, folder), { recursive: true });
    for (let i = 0; i < 4; i++) await writeFile(join(source, folder, `large-${i}`), seededBytes(`${folder}${i}`, 6 * 1024 * 1024));
    for (let i = 0; i < 300; i++) await writeFile(join(source, folder, `small-${i}`), seededBytes(`${folder}s${i}`, 3000));
  }
  return { dir, repo, env, source };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} mid-backup: stops at a safe point, keeps finished packs, leaves no lock; the rerun completes`, async (t) => {
    const { repo, env, source } = await setUp(t, '4MiB');
    // 4 MiB/s: the backup of 48 MiB lasts long enough to be interrupted in the middle.
    const stopped = await interrupt(['backup', '--json', '--limit-upload', '4096', source], env, signal, firstProgress);
    assert.equal(stopped.status, 130, stopped.stderr);
    assert.match(stopped.stderr, /interrupted/);
    assert.match(stopped.stderr, /The backup was stopped before it finished/);
    await assertNoLocks(repo);
    assert.deepEqual(await readdir(join(repo, 'snapshots')), []);
    assert.ok((await readdir(join(repo, 'index'))).length > 0, 'the packs finished before the signal are indexed');
    const check = run(['check'], env);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const rerun = run(['backup', source], env);
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.equal((await readdir(join(repo, 'snapshots'))).length, 1);
  });
}

test('SIGTERM and SIGINT mid-restore: no temporary file, no lock, no folder left private; the rerun completes', async (t) => {
  const { dir, repo, env, source } = await setUp(t);
  assert.equal(run(['backup', source], env).status, 0);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const target = join(dir, `target-${signal}`);
    // A restore into folders that exist writes every file under a temporary name first.
    await mkdir(join(target, source, 'a'), { recursive: true });
    await mkdir(join(target, source, 'b'), { recursive: true });
    const stopped = await interrupt(['restore', '--json', `latest:${source}`, '--target', join(target, source)], env, signal, firstProgress);
    assert.equal(stopped.status, 130, stopped.stderr);
    assert.match(stopped.stderr, /The restore was stopped before it finished/);
    await assertNoLocks(repo);
    assert.equal(run(['check'], env).status, 0);
    const left = await filesUnder(target);
    assert.deepEqual(left.filter((name) => name.includes('.hindsight-restore-')), [], 'no temporary file is left');
    const rerun = run(['restore', `latest:${source}`, '--target', join(target, source)], env);
    assert.equal(rerun.status, 0, rerun.stderr);
    for (const name of ['a/large-3', 'b/large-3', 'b/small-299']) {
      assert.ok((await readFile(join(target, source, name))).equals(await readFile(join(source, name))), name);
    }
    assert.equal((await stat(join(target, source, 'b'))).mode & 0o777, (await stat(join(source, 'b'))).mode & 0o777);
  }
});

test('a rerun of a restore removes the temporary files a killed restore left', async (t) => {
  const { dir, env, source } = await setUp(t);
  assert.equal(run(['backup', source], env).status, 0);
  const target = join(dir, 'target');
  await mkdir(join(target, 'a'), { recursive: true });
  await writeFile(join(target, '.hindsight-restore-0123456789ab'), 'half a file');
  await writeFile(join(target, 'a', '.hindsight-restore-ba9876543210'), 'half a file');
  const restored = run(['restore', `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.stderr);
  assert.deepEqual((await filesUnder(target)).filter((name) => name.includes('.hindsight-restore-')), []);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} mid-check --read-data: stops, says so, leaves no lock`, async (t) => {
    const { repo, env, source } = await setUp(t, '1MiB');
    assert.equal(run(['backup', source], env).status, 0);
    const stopped = await interrupt(['check', '--read-data'], env, signal, lockTaken(repo));
    assert.equal(stopped.status, 130, stopped.stderr);
    assert.match(stopped.stderr, /The check was stopped before it finished/);
    await assertNoLocks(repo);
    assert.equal(run(['check', '--read-data'], env).status, 0);
  });
}

test('Ctrl-C typed on a terminal: the progress line gives way to the notice, and the outcome ends on a line of its own', async (t) => {
  if (spawnSync('script', ['--version']).error) {
    t.skip('util-linux "script" is not installed; it provides the pseudo-terminal');
    return;
  }
  const { repo, env, source } = await setUp(t, '4MiB');
  // script(1) gives the backup a terminal; the ^C written to it reaches the backup as SIGINT, as a key press does.
  const command = `exec ${[process.execPath, bin, 'backup', '--limit-upload', '4096', source].map((arg) => `'${arg}'`).join(' ')}`;
  const terminal = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => terminal.kill('SIGKILL'));
  let output = '';
  const progressShown = new Promise<void>((resolve) => {
    terminal.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('\r\x1b[K[')) resolve();
    });
  });
  const exited = once(terminal, 'exit') as Promise<[number | null]>;
  await progressShown;
  terminal.stdin.write('\x03');
  const [status] = await exited;
  assert.equal(status, 130, output);
  assert.match(output, /\r\x1b\[Khindsight: interrupted; stopping at a safe point/);
  assert.match(output, /hindsight: The backup was stopped before it finished[^\n]*\n$/);
  await assertNoLocks(repo);
});

test('a second Ctrl-C stops at once', async (t) => {
  const { env, source } = await setUp(t, '4MiB');
  const child = spawn(process.execPath, [bin, 'backup', '--json', '--limit-upload', '1024', source], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  await firstProgress(child);
  child.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 50));
  child.kill('SIGINT');
  const [status] = await exited;
  assert.equal(status, 130);
});
