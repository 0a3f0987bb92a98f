import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
const holdLock = fileURLToPath(new URL('../fixtures/holdLock.js', import.meta.url));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function hindsight(args: string[], env: Record<string, string> = {}): Result {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...clean, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function assertFriendlyFailure(result: Result, status: number, message: RegExp): void {
  assert.equal(result.status, status, `expected exit ${status}, got ${result.status}: ${result.stderr}`);
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack traces for expected errors');
}

test('--help and --version', () => {
  const help = hindsight(['--help']);
  assert.equal(help.status, 0);
  // Commands are loaded by name when they run: every listed name must load the command of that name.
  const listed = [...help.stdout.matchAll(/^  (\S+) /gm)].map((m) => m[1] as string);
  assert.ok(listed.length >= 25 && ['init', 'backup', 'restore', 'key', 'unlock', 'serve', 'copy'].every((c) => listed.includes(c)), listed.join());
  for (const command of listed) assert.match(hindsight([command, '--help']).stdout, new RegExp(`^Usage: hindsight ${command}\\b`, 'm'), command);
  assert.match(hindsight(['key', '--help']).stdout, /Usage: hindsight key list\|add\|remove ID\|passwd/);
  assert.match(hindsight(['--version']).stdout, /^hindsight \d+\.\d+\.\d+/);
  assertFriendlyFailure(hindsight(['frobnicate']), 2, /Unknown command "frobnicate"/);
});

test('init, then key add, list, remove and passwd', async (t) => {
  const repo = join(await tempDir(t), 'repo');
  const first = { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'first password' };
  const init = hindsight(['init'], first);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /Created repository [0-9a-f]{8} at /);
  assert.match(init.stdout, /Keep the password safe/);
  assertFriendlyFailure(hindsight(['init'], first), 1, /already a Hindsight repository/);

  const add = hindsight(['key', 'add'], { ...first, HINDSIGHT_NEW_PASSWORD: 'second password' });
  assert.equal(add.status, 0, add.stderr);
  const secondId = /Added key ([0-9a-f]{8})/.exec(add.stdout)?.[1];
  assert.ok(secondId);

  const list = JSON.parse(hindsight(['key', 'list', '--json'], first).stdout) as { id: string; current: boolean }[];
  assert.equal(list.length, 2);
  assert.equal(list.filter((k) => k.current).length, 1);
  assert.ok(list.some((k) => k.id.startsWith(secondId) && !k.current));
  assert.match(hindsight(['key', 'list'], { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'second password' }).stdout, new RegExp(`^\\*  ${secondId}`, 'm'));

  const firstId = list.find((k) => k.current)?.id.slice(0, 8) as string;
  assertFriendlyFailure(hindsight(['key', 'remove', firstId], first), 1, /cannot remove itself/);
  assertFriendlyFailure(hindsight(['key', 'remove', 'ffff'], first), 1, /No key matches "ffff"/);
  assert.equal(hindsight(['key', 'remove', secondId], first).status, 0);
  assertFriendlyFailure(hindsight(['key', 'list'], { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'second password' }), 12, /Wrong password/);

  const passwd = hindsight(['key', 'passwd'], { ...first, HINDSIGHT_NEW_PASSWORD: 'third password' });
  assert.equal(passwd.status, 0, passwd.stderr);
  assertFriendlyFailure(hindsight(['key', 'list'], first), 12, /Wrong password for the repository at /);
  const repository = await Repository.open(new LocalBackend(repo), 'third password');
  assert.equal((await repository.listKeys()).length, 1);
});

test('passwords come from --password-file (final newline ignored), and --repo beats HINDSIGHT_REPO', async (t) => {
  const dir = await tempDir(t);
  const passwordFile = join(dir, 'password.txt');
  await writeFile(passwordFile, 'from a file\n');
  const repo = join(dir, 'repo');
  assert.equal(hindsight(['init', '--repo', repo, '--password-file', passwordFile], { HINDSIGHT_REPO: join(dir, 'elsewhere') }).status, 0);
  await Repository.open(new LocalBackend(repo), 'from a file');
  assert.equal(hindsight(['key', 'list', '-r', repo], { HINDSIGHT_PASSWORD: 'from a file' }).status, 0);
  assertFriendlyFailure(hindsight(['key', 'list', '-r', repo, '--password-file', join(dir, 'nope')]), 12, /Cannot read the password file/);
});

test('clear errors: no repository, no password, missing target, bad options', async (t) => {
  const dir = await tempDir(t);
  assertFriendlyFailure(hindsight(['key', 'list'], { HINDSIGHT_PASSWORD: 'x' }), 2, /Which repository\? Give --repo/);
  assertFriendlyFailure(hindsight(['key', 'list', '--repo', join(dir, 'gone')], { HINDSIGHT_PASSWORD: 'x' }), 10, /does not exist\. If it is on an external disk/);
  assertFriendlyFailure(hindsight(['key', 'list', '--repo', dir], { HINDSIGHT_PASSWORD: 'x' }), 10, /There is no Hindsight repository at/);
  assertFriendlyFailure(hindsight(['init', '--repo', join(dir, 'r')]), 12, /No password given: set HINDSIGHT_PASSWORD/);
  assertFriendlyFailure(hindsight(['init', '--repo', join(dir, 'r'), '--compression', 'high'], { HINDSIGHT_PASSWORD: 'x' }), 2, /--compression takes a whole number/);
  assertFriendlyFailure(hindsight(['init', '--repo', join(dir, 'r'), '--compression', '25'], { HINDSIGHT_PASSWORD: 'x' }), 1, /compression level must be 0–19/);
  assertFriendlyFailure(hindsight(['init', '--repo', 'ftp://nas/backups'], { HINDSIGHT_PASSWORD: 'x' }), 2, /Unknown repository location "ftp:\/\/nas\/backups": use a folder path/);
  assertFriendlyFailure(hindsight(['init', '--repo', 'sftp://nas/backups', '--ssh-key', join(dir, 'no-key')], { HINDSIGHT_PASSWORD: 'x' }), 1, /Cannot read the SSH key .*no-key/);
  assertFriendlyFailure(hindsight(['init', '--repo', 's3://host'], { HINDSIGHT_PASSWORD: 'x' }), 2, /names no bucket/);
  assertFriendlyFailure(hindsight(['backup', '--repo', dir, '--limit-upload', 'fast', dir], { HINDSIGHT_PASSWORD: 'x' }), 2, /--limit-upload takes a number of KiB per second/);
  assertFriendlyFailure(hindsight(['key', 'list', '--nope'], { HINDSIGHT_PASSWORD: 'x' }), 2, /Unknown option '--nope'/);
});

test('unlock removes the lock of a killed process', async (t) => {
  const repo = join(await tempDir(t), 'repo');
  const env = { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw' };
  assert.equal(hindsight(['init'], env).status, 0);
  const child = spawn(process.execPath, [holdLock, repo, 'pw', 'exclusive'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  const unlock = hindsight(['unlock'], env);
  assert.equal(unlock.status, 0, unlock.stderr);
  assert.match(unlock.stdout, /Removed exclusive lock [0-9a-f]{8} of .* \(pid \d+\)/);
  assert.match(unlock.stdout, /1 lock removed; 0 still held\./);
  assert.match(hindsight(['unlock'], env).stdout, /0 locks removed/);
});

test('on a terminal the password is asked for, hidden, and confirmed', async (t) => {
  if (spawnSync('script', ['--version']).error) {
    t.skip('util-linux "script" is not installed; it provides the pseudo-terminal');
    return;
  }
  const repo = join(await tempDir(t), 'repo');
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} init --repo ${JSON.stringify(repo)}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    if (/again\): $/.test(output)) child.stdin.write('typed secret\r');
    else if (/repository: $/.test(output)) child.stdin.write('typed secret\r');
  });
  const status = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(status, 0, output);
  assert.match(output, /Password for the new repository: /);
  assert.doesNotMatch(output, /typed secret/, 'the password must not be echoed');
  await Repository.open(new LocalBackend(repo), 'typed secret');
});
