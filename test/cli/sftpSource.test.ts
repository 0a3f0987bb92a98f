import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, chown, lutimes, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree, type EntryState } from '../helpers/fileTree.js';
import { sshdMissing, startSshServer, type SshServer } from '../helpers/sshServer.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
const skip = sshdMissing();

function hindsight(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_') && k !== 'SSH_AUTH_SOCK'));
  return spawnSync(process.execPath, [bin, ...args], { env: { ...clean, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

function summaryOf(stdout: string): Record<string, number | string> {
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number | string>;
}

/** The SSH options a command needs for this server. */
function sshOptions(server: SshServer): string[] {
  return ['--ssh-key', server.userKey, '--known-hosts', server.knownHosts];
}

function remote(server: SshServer, path: string): string {
  return `sftp://${server.username}@127.0.0.1:${server.port}${path}`;
}

/**
 * Every entry's times an hour back: SFTP gives whole seconds, so an entry written in the last two seconds
 * is read again by the next backup (it could change again within its second unseen), and these tests
 * want to see a second backup read nothing.
 */
async function ageTree(root: string): Promise<void> {
  const past = Date.now() / 1000 - 3600;
  const visit = async (folder: Buffer): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true, encoding: 'buffer' })) {
      const path = Buffer.concat([folder, Buffer.from('/'), entry.name]);
      if (entry.isDirectory()) await visit(path);
      await lutimes(path, past, past);
    }
  };
  await visit(Buffer.from(root));
  await lutimes(root, past, past);
}

/**
 * The tree as a restore of its SFTP backup has it: what SFTP (version 3, through ssh2) cannot carry is
 * left out or rounded, and nothing else: names and link targets that are not UTF-8 are left out (with a
 * warning), hard links come back as separate files, and times to the second.
 */
function asSftpCarriesIt(tree: Map<string, EntryState>): Map<string, EntryState> {
  const carried = new Map<string, EntryState>();
  for (const [key, state] of tree) {
    const name = Buffer.from(key, 'hex');
    if (name.toString('utf8').includes('\ufffd')) continue;
    if (state.linkTarget && Buffer.from(state.linkTarget, 'hex').toString('utf8').includes('\ufffd')) continue;
    const { linkGroup: _group, ...rest } = state;
    carried.set(key, { ...rest, mtimeUs: state.mtimeUs - (state.mtimeUs % 1_000_000n) });
  }
  return carried;
}

test('a folder on another machine, backed up over SFTP: restored as SFTP carries it, a second backup reads nothing, a change is picked up', { skip }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  const tree = join(dir, 'www');
  await buildAwkwardTree(tree, { smallFiles: 600, depth: 6 });
  await ageTree(tree);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);

  const first = hindsight(['backup', '--json', ...sshOptions(server), remote(server, tree)], env);
  // Exit 3: the name and the link target that are not UTF-8 are left out, each with a warning.
  assert.equal(first.status, 3, first.stderr);
  // With --json, warnings are JSON lines on standard output.
  assert.match(first.stdout, /latin.*its name is not UTF-8/);
  assert.match(first.stdout, /odd-target.*its target is not UTF-8/);
  const one = summaryOf(first.stdout);
  // 600 small files and the awkward tree's 12, but for the one whose name is not UTF-8.
  assert.equal(one.filesNew, 600 + 11, JSON.stringify(one));

  const [snapshot] = JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as { id: string; host: string; paths: string[] }[];
  assert.equal(snapshot?.host, '127.0.0.1', 'the snapshot records the machine it came from');
  assert.deepEqual(snapshot?.paths, [tree], 'and the folder as that machine names it');

  const target = join(dir, 'restored');
  const restored = hindsight(['restore', `latest:${tree}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.stderr);
  assertSameTree(await describeTree(target), asSftpCarriesIt(await describeTree(tree)));

  const second = hindsight(['backup', '--json', ...sshOptions(server), remote(server, tree)], env);
  assert.equal(second.status, 3, second.stderr);
  const two = summaryOf(second.stdout);
  assert.equal(two.filesRead, 0, 'an unchanged remote tree is checked by its listings alone');
  assert.equal(two.bytesRead, 0);
  assert.equal(two.parent, snapshot?.id);

  await writeFile(join(tree, 'hello.txt'), 'hello from the server, edited\n');
  await mkdir(join(tree, 'new-folder'));
  await writeFile(join(tree, 'new-folder', 'big.bin'), seededBytes('big', 9 * 1024 * 1024 + 5));
  const third = hindsight(['backup', '--json', ...sshOptions(server), remote(server, tree)], env);
  assert.equal(third.status, 3, third.stderr);
  const three = summaryOf(third.stdout);
  assert.equal(three.filesChanged, 1);
  assert.equal(three.filesNew, 1);
  assert.equal(three.filesRead, 2);
  const again = join(dir, 'restored-again');
  assert.equal(hindsight(['restore', `latest:${tree}`, '--target', again], env).status, 0);
  assertSameTree(await describeTree(again), asSftpCarriesIt(await describeTree(tree)));

  // Back to a folder on the server, over SFTP.
  const back = join(dir, 'restored-on-server');
  const toRemote = hindsight(['restore', `latest:${tree}`, '--target', remote(server, back), ...sshOptions(server)], env);
  assert.equal(toRemote.status, 0, toRemote.stderr);
  assert.match(toRemote.stdout, /Restored snapshot [0-9a-f]{8}:.* to sftp:\/\/.*restored-on-server/);
  // SFTP sets times through links (it has no lutimes): a link made on the server has the time it was made.
  const linkTimesAside = (tree: Map<string, EntryState>) => new Map([...tree].map(([key, state]) => [key, state.type === 'symlink' ? { ...state, mtimeUs: 0n } : state]));
  assertSameTree(linkTimesAside(await describeTree(back)), linkTimesAside(asSftpCarriesIt(await describeTree(tree))));
  // Files written under a temporary name and renamed: none is left behind.
  assert.ok(![...(await describeTree(back)).keys()].some((key) => Buffer.from(key, 'hex').toString().includes('.hindsight-restore-')));
});

test('a restore to a remote folder never writes through a symbolic link planted in it', { skip }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  const tree = join(dir, 'www');
  await mkdir(join(tree, 'conf'), { recursive: true });
  await writeFile(join(tree, 'conf', 'site.conf'), 'from the backup');
  await writeFile(join(tree, 'index.html'), 'home');
  await ageTree(tree);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  assert.equal(hindsight(['backup', ...sshOptions(server), remote(server, tree)], env).status, 0);

  const outside = join(dir, 'outside');
  await mkdir(outside);
  const back = join(dir, 'back');
  await mkdir(back);
  await symlink(outside, join(back, 'conf'));
  const run = hindsight(['restore', `latest:${tree}`, '--target', remote(server, back), ...sshOptions(server)], env);
  assert.equal(run.status, 3, run.stderr);
  assert.match(run.stderr, /conf: not restored: a symbolic link of that name is in the way on the server/);
  assert.deepEqual(await readdir(outside), [], 'nothing was written through the link');
  assert.equal(await readFile(join(back, 'index.html'), 'utf8'), 'home');
});

test('a remote folder the SSH user may not read is a warning, and the rest is backed up', { skip }, async (t) => {
  const server = await startSshServer(t, { user: 'nobody' });
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const tree = join(dir, 'site');
  await mkdir(join(tree, 'public'), { recursive: true });
  await mkdir(join(tree, 'secret'));
  await writeFile(join(tree, 'public', 'index.html'), '<h1>hi</h1>');
  await writeFile(join(tree, 'secret', 'key.pem'), 'private');
  await writeFile(join(tree, 'unreadable.txt'), 'no');
  await chmod(join(tree, 'secret'), 0o700);
  await chmod(join(tree, 'unreadable.txt'), 0o600);
  await chown(join(tree, 'public'), 0, 0);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const run = hindsight(['backup', ...sshOptions(server), remote(server, tree)], env);
  assert.equal(run.status, 3, run.stderr);
  assert.match(run.stderr, /secret: could not be read: permission denied/);
  assert.match(run.stderr, /unreadable\.txt: could not be read: permission denied/);
  const ls = hindsight(['ls', `latest:${tree}`], env).stdout;
  assert.match(ls, /public\/index\.html/);
  assert.doesNotMatch(ls, /key\.pem/);
});

test('the SSH server killed mid-backup: a clean failure that keeps what was saved, and the rerun completes', { skip }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  const tree = join(dir, 'data');
  await mkdir(tree);
  for (let i = 0; i < 12; i++) await writeFile(join(tree, `part${i}.bin`), seededBytes(`part${i}`, 16 * 1024 * 1024));
  await ageTree(tree);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);

  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_') && k !== 'SSH_AUTH_SOCK'));
  const child = spawn(process.execPath, [bin, 'backup', '--json', ...sshOptions(server), remote(server, tree)], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  let killed = false;
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
    const done = [...stdout.matchAll(/"bytesDone":(\d+)/g)].map((m) => Number(m[1])).at(-1) ?? 0;
    if (!killed && done > 40 * 1024 * 1024) {
      killed = true;
      void server.stop();
    }
  });
  const status = await exited;
  assert.ok(killed, 'the server was stopped part-way');
  assert.equal(status, 10, stderr);
  assert.match(stderr, /Lost the connection to sftp:\/\/.*127\.0\.0\.1.* and could not connect again .* what it saved is kept/);
  assert.equal((JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as unknown[]).length, 0, 'no snapshot of a backup that failed');

  await server.start();
  const rerun = hindsight(['backup', '--json', ...sshOptions(server), remote(server, tree)], env);
  assert.equal(rerun.status, 0, rerun.stderr);
  const summary = summaryOf(rerun.stdout);
  assert.ok((summary.bytesAdded as number) < 12 * 16 * 1024 * 1024 - 30 * 1024 * 1024, `the rerun stored only what the first did not (${summary.bytesAdded} bytes)`);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', `latest:${tree}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), asSftpCarriesIt(await describeTree(tree)));
});

test('a remote machine with an unknown host key is refused, and one whose key changed is refused even when new keys are accepted', { skip }, async (t) => {
  const server = await startSshServer(t);
  const dir = await tempDir(t);
  await mkdir(join(dir, 'src'));
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const empty = join(dir, 'known_hosts_empty');
  await writeFile(empty, '');
  const unknown = hindsight(['backup', '--ssh-key', server.userKey, '--known-hosts', empty, remote(server, join(dir, 'src'))], env);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /The host 127\.0\.0\.1 port \d+ is not in .*known_hosts_empty.*Its key is ssh-ed25519 SHA256:/);

  const wrong = join(dir, 'known_hosts_wrong');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other_key')]);
  const [type, blob] = (await readFile(join(dir, 'other_key.pub'), 'utf8')).split(' ');
  await writeFile(wrong, `[127.0.0.1]:${server.port} ${type} ${blob}\n`);
  const changed = hindsight(['backup', '--ssh-key', server.userKey, '--known-hosts', wrong, '--accept-new-host-key', remote(server, join(dir, 'src'))], env);
  assert.equal(changed.status, 1);
  assert.match(changed.stderr, /is not the one recorded in/);
  assert.equal((JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as unknown[]).length, 0);
});

test('--one-file-system on a remote folder keeps a mount point there as an empty folder (file system ids through statvfs@openssh.com); excludes apply', { skip }, async (t) => {
  const server = await startSshServer(t);
  // Its own folder, not tempDir's: the tmpfs must be unmounted before the folder is removed.
  const dir = await mkdtemp(join(tmpdir(), 'hindsight-test-'));
  let mounted = false;
  t.after(async () => {
    if (mounted) execFileSync('umount', ['-l', join(dir, 'srv', 'mnt')]);
    await rm(dir, { recursive: true, force: true });
  });
  const tree = join(dir, 'srv');
  await mkdir(join(tree, 'data'), { recursive: true });
  await mkdir(join(tree, 'mnt'));
  await writeFile(join(tree, 'data', 'kept.txt'), 'on the same file system');
  await writeFile(join(tree, 'data', 'noise.log'), 'excluded by pattern');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', join(tree, 'mnt')], { stdio: 'pipe' });
  } catch (err) {
    t.skip(`cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root`);
    return;
  }
  mounted = true;
  await writeFile(join(tree, 'mnt', 'other.txt'), 'on another file system');
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const within = hindsight(['backup', '--one-file-system', '--exclude', '*.log', ...sshOptions(server), remote(server, tree)], env);
  assert.equal(within.status, 0, within.stderr);
  const ls = hindsight(['ls', `latest:${tree}`], env).stdout;
  assert.match(ls, /\/srv\/data\/kept\.txt$/m);
  assert.match(ls, /\/srv\/mnt$/m, 'the mount point is kept, as an empty folder');
  assert.doesNotMatch(ls, /other\.txt/);
  assert.doesNotMatch(ls, /noise\.log/, 'excludes apply to remote paths as to local ones');
  const across = hindsight(['backup', ...sshOptions(server), remote(server, tree)], env);
  assert.equal(across.status, 0, across.stderr);
  assert.match(hindsight(['ls', `latest:${tree}`], env).stdout, /\/srv\/mnt\/other\.txt$/m);
});
