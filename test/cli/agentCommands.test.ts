import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin, childEnv, startAgent } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

/** Runs the CLI asynchronously (a running agent in this test process must keep answering meanwhile). */
function hindsight(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function setUp(dir: string) {
  const source = join(dir, 'source');
  await mkdir(source);
  await writeFile(join(source, 'a.txt'), 'plan data');
  const env = { HINDSIGHT_DATA_DIR: join(dir, 'data'), HINDSIGHT_CACHE_DIR: join(dir, 'cache'), HINDSIGHT_PASSWORD: 'cli pw' };
  const repo = join(dir, 'repo');
  assert.equal((await hindsight(['init', '--repo', repo], env)).status, 0);
  return { source, env, repo };
}

test('plan, status, pause and resume act directly on the plans when no agent runs', async (t) => {
  const dir = await tempDir(t);
  const { source, env, repo } = await setUp(dir);
  const added = await hindsight(['plan', 'add', '--name', 'docs', '--repo', repo, '--every', '2h', '--keep-last', '3', source], env);
  assert.equal(added.status, 0, added.stderr);
  assert.match(added.stdout, /Plan "docs" added .*every 120 min/);
  const listed = await hindsight(['plan', 'list'], env);
  assert.match(listed.stdout, /docs {2}every 120 min/);
  assert.match(listed.stdout, new RegExp(`${source} → ${repo}`));
  const status = await hindsight(['status'], env);
  assert.match(status.stdout, /no agent is running/);

  // Times in local time, as every command shows them; a paused plan's run is a runtime failure (1), not wrong usage.
  const paused = await hindsight(['pause', '--for', '1h'], env);
  assert.match(paused.stdout, /^Paused until \d{4}-\d\d-\d\d \d\d:\d\d\.$/m);
  assert.match((await hindsight(['status'], env)).stdout, /Hindsight is paused/);
  const held = await hindsight(['plan', 'run', 'docs'], env);
  assert.equal(held.status, 1, held.stderr);
  assert.match(held.stderr, /^hindsight: Plan "docs" is paused \(paused until \d{4}-\d\d-\d\d \d\d:\d\d\); resume it first\.$/m);
  assert.match((await hindsight(['resume'], env)).stdout, /Resumed/);

  const ran = await hindsight(['plan', 'run', 'docs'], env);
  assert.equal(ran.status, 0, ran.stderr);
  assert.match(ran.stdout, /Plan "docs": snapshot [0-9a-f]{8} saved/);
  const snapshots = await hindsight(['snapshots', '--repo', repo], env);
  assert.match(snapshots.stdout, /1 snapshot\n/);
  // --keep-last 3 is applied after each run, to this plan's snapshots only.
  assert.equal((await hindsight(['backup', '--repo', repo, '--tag', 'by-hand', source], env)).status, 0);
  for (let i = 0; i < 3; i++) assert.equal((await hindsight(['plan', 'run', 'docs'], env)).status, 0);
  const kept = JSON.parse((await hindsight(['snapshots', '--json', '--repo', repo], env)).stdout) as { tags: string[] }[];
  assert.equal(kept.filter((s) => s.tags.some((tag) => tag.startsWith('plan:'))).length, 3);
  assert.ok(kept.some((s) => s.tags.includes('by-hand')), 'a snapshot of no plan is left alone');

  const wrong = await hindsight(['plan', 'run', 'nope'], env);
  assert.equal(wrong.status, 1, 'a plan that is not there is a runtime failure, not wrong usage');
  assert.match(wrong.stderr, /No plan "nope"/);
  // A plan whose run failed puts Hindsight in error, said as a sentence.
  await mkdir(join(dir, 'gone'));
  assert.equal((await hindsight(['plan', 'add', '--name', 'gone', '--repo', repo, join(dir, 'gone')], env)).status, 0);
  await rm(join(dir, 'gone'), { recursive: true });
  const failed = await hindsight(['plan', 'run', 'gone'], env);
  assert.equal(failed.status, 1, failed.stderr);
  assert.match((await hindsight(['status'], env)).stdout, /^Hindsight is in error \(a plan's last run failed; see hindsight plan list\)/);
  assert.equal((await hindsight(['plan', 'remove', 'gone'], env)).status, 0);
  const badSchedule = await hindsight(['plan', 'add', '--name', 'x', '--repo', repo, '--cron', 'sometimes', source], env);
  assert.notEqual(badSchedule.status, 0);
  assert.match(badSchedule.stderr, /not a cron expression/);
  // A plan of a command's output: what follows -- is the command, kept as its words.
  const dump = await hindsight(['plan', 'add', '--name', 'dump', '--repo', repo, '--stdin-from-command', '--stdin-filename', 'notes.txt', '--', 'printf', '%s', 'a; b'], env);
  assert.equal(dump.status, 0, dump.stderr);
  assert.match((await hindsight(['plan', 'list'], env)).stdout, /output of printf %s 'a; b' as notes\.txt → /);
  assert.equal((await hindsight(['plan', 'run', 'dump'], env)).status, 0);
  assert.equal((await hindsight(['cat', '--repo', repo, 'latest:/notes.txt'], env)).stdout, 'a; b');
  assert.equal((await hindsight(['plan', 'remove', 'dump'], env)).status, 0);
  const noCommand = await hindsight(['plan', 'add', '--name', 'x', '--repo', repo, '--stdin-from-command'], env);
  assert.equal(noCommand.status, 2);
  assert.match(noCommand.stderr, /Say which command to run after --/);
  assert.equal((await hindsight(['plan', 'add', '--name', 'x', '--repo', repo, '--continuous', '--stdin-from-command', '--', 'true'], env)).status, 2);

  assert.equal((await hindsight(['plan', 'remove', 'docs'], env)).status, 0);
  assert.match((await hindsight(['plan', 'list'], env)).stdout, /^0 plans/);
});

test('the same commands talk to a running agent', async (t) => {
  const dir = await tempDir(t);
  const { source, env, repo } = await setUp(dir);
  const agent = await startAgent(t, { env, dataDir: env.HINDSIGHT_DATA_DIR });
  assert.equal((await hindsight(['plan', 'add', '--name', 'docs', '--repo', repo, source], env)).status, 0);
  assert.deepEqual((await agent.client.call('plans.list', {})).map((p) => p.name), ['docs'], 'the running agent has the plan');
  const status = await hindsight(['status'], env);
  assert.doesNotMatch(status.stdout, /no agent is running/);
  assert.match(status.stdout, /docs: idle/);
  const ran = await hindsight(['plan', 'run', 'docs'], env);
  assert.equal(ran.status, 0, ran.stderr);
  assert.ok(agent.events.some((e) => e.type === 'job.finished' && e.job.result === 'succeeded'), 'the agent ran the job');
  await hindsight(['pause', '--plan', 'docs'], env);
  assert.equal((await agent.client.call('status.get', {})).plans[0]?.state, 'paused');
  await hindsight(['resume', '--plan', 'docs'], env);
  assert.equal((await agent.client.call('status.get', {})).plans[0]?.state, 'idle');
  await agent.stop();
});

test('plan add refuses a second plan of the same name and a folder that does not exist; plan run refuses plan add\'s options; a missing keychain is said', async (t) => {
  const dir = await tempDir(t);
  const { source, env, repo } = await setUp(dir);
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, 'cli pw\n');
  const { HINDSIGHT_PASSWORD: _password, ...withoutPassword } = env;
  const first = await hindsight(['plan', 'add', '--name', 'docs', '--repo', repo, '--password-file', passwordFile, source], withoutPassword);
  assert.equal(first.status, 0, first.stderr);
  // This machine has no keychain (no D-Bus session): the password is kept for the session only, and the user is told.
  if (/keychain cannot be used/.test(first.stderr)) assert.match(first.stderr, /a running agent needs HINDSIGHT_PASSWORD/);

  const again = await hindsight(['plan', 'add', '--name', 'docs', '--repo', repo, source], env);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already a plan named "docs"/);
  const missing = await hindsight(['plan', 'add', '--name', 'other', '--repo', repo, join(dir, 'no-such-folder')], env);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no-such-folder: it does not exist/);
  const listed = await hindsight(['plan', 'list'], env);
  assert.match(listed.stdout, /^1 plan$/m);

  const run = await hindsight(['plan', 'run', 'docs', '--password-file', passwordFile], env);
  assert.equal(run.status, 2);
  assert.match(run.stderr, /"plan run" does not take --password-file/);
});

test('an agent started without a keychain says so at start-up, and stops cleanly on SIGTERM', async (t) => {
  const dir = await tempDir(t);
  const child = spawn(process.execPath, [bin, 'agent'], { env: childEnv({ HINDSIGHT_DATA_DIR: join(dir, 'data'), DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent', DISPLAY: '' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const warned = new Promise<void>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('no system keychain')) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await warned;
  assert.match(stderr, /warning: no system keychain \(.+\): repository passwords are kept for this session only/);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
