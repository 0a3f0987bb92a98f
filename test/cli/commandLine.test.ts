import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseBytes } from '../../src-shared/units.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { tempDir } from '../helpers/tempDir.js';

/** The edges a person meets in the first hour: unsafe init targets, pipes, stray arguments, `latest`, exit statuses. */

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
const holdLock = fileURLToPath(new URL('../fixtures/holdLock.js', import.meta.url));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
}

function hindsight(args: string[], env: Record<string, string> = {}): Result {
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...cleanEnv(), ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `hindsight ARGS | head -c BYTES` in bash and returns hindsight's own status and standard error. */
function throughHead(args: string[], bytes: number, env: Record<string, string>): Result {
  const command = `${[process.execPath, bin, ...args].map((a) => `'${a}'`).join(' ')} 2>"$ERR" | head -c ${bytes}; echo "status=\${PIPESTATUS[0]}"`;
  const dir = env.HINDSIGHT_CACHE_DIR as string;
  const errFile = join(dir, `stderr-${Math.random().toString(16).slice(2)}`);
  const result = spawnSync('bash', ['-c', `mkdir -p "${dir}" && ${command}; cat "$ERR" >&2`], { env: { ...cleanEnv(), ...env, ERR: errFile }, encoding: 'utf8' });
  const status = /status=(\d+)\s*$/.exec(result.stdout)?.[1];
  return { status: status === undefined ? null : Number(status), stdout: result.stdout.replace(/status=\d+\s*$/, ''), stderr: result.stderr };
}

async function repositoryWithSnapshot(t: import('node:test').TestContext) {
  const dir = await tempDir(t);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const source = join(dir, 'source');
  await mkdir(source);
  for (let i = 0; i < 2000; i++) await writeFile(join(source, `file-${i}`), `file ${i}\n`);
  await writeFile(join(source, 'big'), seededBytes('big', 8 * 1024 * 1024));
  assert.equal(hindsight(['backup', source], env).status, 0);
  return { dir, env, source };
}

test('init refuses a folder whose parent is missing (an unmounted disk) and a folder of other files; --create-parents', async (t) => {
  const dir = await tempDir(t);
  const env = { HINDSIGHT_PASSWORD: 'pw' };
  const missing = hindsight(['init', '--repo', join(dir, 'media', 'disk', 'hindsight')], env);
  assert.equal(missing.status, 10, missing.stderr);
  assert.match(missing.stderr, /does not exist\. If it is on a disk, is the disk mounted\? .*--create-parents/);
  assert.deepEqual(await readdir(dir), [], 'nothing was created');

  const documents = join(dir, 'documents');
  await mkdir(documents);
  await writeFile(join(documents, 'letter.txt'), 'Dear Ann');
  const full = hindsight(['init', '--repo', documents], env);
  assert.equal(full.status, 1, full.stderr);
  assert.match(full.stderr, /holds other files \(letter\.txt\)/);
  assert.deepEqual(await readdir(documents), ['letter.txt']);

  const created = hindsight(['init', '--repo', join(dir, 'media', 'disk', 'hindsight'), '--create-parents'], env);
  assert.equal(created.status, 0, created.stderr);
  await mkdir(join(dir, 'empty'));
  assert.equal(hindsight(['init', '--repo', join(dir, 'empty')], env).status, 0);
});

test('a standard output closed early ends the output quietly, and never a backup half-way', async (t) => {
  const { dir, env, source } = await repositoryWithSnapshot(t);
  for (const args of [['ls', 'latest'], ['ls', 'latest', '--json'], ['cat', `latest:${source}/big`]]) {
    const result = throughHead(args, 10, env);
    assert.equal(result.status, 141, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr, '', `${args.join(' ')} says nothing`);
  }
  assert.deepEqual(await readdir(join(dir, 'repo', 'locks')), []);

  await writeFile(join(source, 'new'), seededBytes('new', 4 * 1024 * 1024));
  const backup = throughHead(['backup', '--json', source], 1, env);
  assert.equal(backup.status, 0, backup.stderr);
  assert.doesNotMatch(backup.stderr, /EPIPE|internal error|Unhandled/);
  assert.equal((await readdir(join(dir, 'repo', 'snapshots'))).length, 2, 'the backup completed');
  assert.deepEqual(await readdir(join(dir, 'repo', 'locks')), []);
});

test('every command rejects an argument it does not take: exit 2, one line', () => {
  const calls = [
    ['init', 'extra'],
    ['snapshots', 'extra'],
    ['ls', 'latest', 'extra'],
    ['restore', 'latest', 'extra', '--target', '/tmp/nowhere'],
    ['cat', 'latest:/a', 'extra'],
    ['versions', '/a', 'extra'],
    ['find', 'a', 'extra'],
    ['diff', 'a', 'b', 'extra'],
    ['stats', 'foo'],
    ['check', 'extra'],
    ['forget', '--keep-last', '3', 'extra'],
    ['prune', 'extra'],
    ['key', 'list', 'extra'],
    ['unlock', 'extra'],
    ['cache', 'rebuild', 'extra'],
    ['agent', 'extra'],
    ['plan', 'list', 'extra'],
    ['plan', 'run', 'a', 'extra'],
    ['status', 'extra'],
    ['pause', 'extra'],
    ['resume', 'extra'],
    ['serve', 'extra'],
    ['server', 'extra'],
    ['server', 'status', 'extra'],
    ['server', 'user', 'list', 'extra'],
    ['targets', 'extra'],
    ['repair', 'extra'],
    ['copy', 'extra'],
    ['tag', 'extra'],
    ['mount', '/mnt/a', 'extra'],
  ];
  // Every command but backup (whose arguments are all paths) is in the list.
  const listed = [...hindsight(['--help']).stdout.matchAll(/^  (\S+) /gm)].map((m) => m[1] as string);
  assert.deepEqual(listed.filter((name) => name !== 'backup' && !calls.some(([command]) => command === name)), []);
  for (const call of calls) {
    const result = hindsight(call, { HINDSIGHT_REPO: '/nonexistent', HINDSIGHT_PASSWORD: 'pw' });
    assert.equal(result.status, 2, `${call.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `${call.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^hindsight: .*\(see "hindsight \S+ --help"\)\n$/, call.join(' '));
  }
});

test('forget ID removes that snapshot; forget prints its groups; a stray argument removes nothing', async (t) => {
  const { dir, env, source } = await repositoryWithSnapshot(t);
  for (let i = 0; i < 3; i++) assert.equal(hindsight(['backup', source], env).status, 0);
  const ids = () => readdir(join(dir, 'repo', 'snapshots'));
  assert.equal((await ids()).length, 4);
  assert.equal(hindsight(['forget', '--keep-last', '3', 'extra'], env).status, 2);
  assert.equal((await ids()).length, 4);

  const dryRun = hindsight(['forget', '--keep-last', '1', '--dry-run'], env);
  assert.equal(dryRun.status, 0, dryRun.stderr);
  assert.match(dryRun.stdout, new RegExp(`Snapshots of host \\S+, paths ${source}:`));

  const [first, second] = await ids();
  const removed = hindsight(['forget', (first as string).slice(0, 8), second as string], env);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`removed snapshot ${(first as string).slice(0, 8)}`));
  assert.deepEqual((await ids()).sort(), (await ids()).filter((id) => id !== first && id !== second).sort());
  assert.equal((await ids()).length, 2);
  assert.equal(hindsight(['forget', 'ffffffff'], env).status, 1, 'an id that matches nothing');
  assert.equal(hindsight(['forget', 'ffffffff', '--keep-last', '1'], env).status, 2, 'ids and rules do not mix');
});

test('latest is the newest snapshot that holds the path; --host, --path and --tag filter', async (t) => {
  const dir = await tempDir(t);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const [ann, bob] = [join(dir, 'ann'), join(dir, 'bob')];
  await mkdir(ann);
  await mkdir(bob);
  await writeFile(join(ann, 'report.txt'), 'Ann\'s report');
  await writeFile(join(bob, 'notes.txt'), 'Bob\'s notes');
  assert.equal(hindsight(['backup', '--tag', 'work', ann], env).status, 0);
  assert.equal(hindsight(['backup', '--host', 'laptop', '--tag', 'home', bob], env).status, 0);

  const cat = hindsight(['cat', `latest:${ann}/report.txt`], env);
  assert.equal(cat.status, 0, cat.stderr);
  assert.equal(cat.stdout, 'Ann\'s report');
  assert.match(hindsight(['ls', `latest:${ann}`], env).stdout, /report\.txt/);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', `latest:${ann}`, '--target', target], env).status, 0);
  assert.deepEqual(await readdir(target), ['report.txt']);
  assert.equal(hindsight(['cat', `latest:${dir}/nobody.txt`], env).status, 1);

  const count = (args: string[]) => JSON.parse(hindsight(['snapshots', '--json', ...args], env).stdout).length as number;
  assert.equal(count([]), 2);
  assert.equal(count(['--host', 'laptop']), 1);
  assert.equal(count(['--path', ann]), 1);
  assert.equal(count(['--tag', 'home']), 1);
  assert.equal(count(['--tag', 'home,work']), 0);
  assert.equal(count(['--tag', 'home', '--tag', 'work']), 2);
  assert.match(hindsight(['ls', 'latest', '--host', 'laptop'], env).stdout, /notes\.txt/);
  assert.equal(hindsight(['ls', 'latest', '--tag', 'nothing'], env).status, 1);
  const filtered = join(dir, 'filtered');
  assert.equal(hindsight(['restore', 'latest', '--tag', 'home', '--target', filtered], env).status, 0);
  assert.deepEqual(await readdir(join(filtered, bob)), ['notes.txt']);
  // versions lists only the snapshots that hold the path: Bob's later one is not among them.
  assert.match(hindsight(['versions', join(ann, 'report.txt')], env).stdout, /^file .* in 1 snapshot: /m);
});

test('exit statuses follow README\'s table, command by command', async (t) => {
  const { dir, env, source } = await repositoryWithSnapshot(t);
  const expect = (status: number, args: string[], extraEnv: Record<string, string> = {}) => {
    const result = hindsight(args, { ...env, ...extraEnv });
    assert.equal(result.status, status, `${args.join(' ')}: ${result.stderr}`);
    return result;
  };
  expect(0, ['snapshots']);
  expect(2, ['snapshots', '--frobnicate']);
  expect(2, ['backup']);
  // Runtime failures are not wrong usage: no pointer to --help.
  assert.doesNotMatch(expect(1, ['backup', join(dir, 'missing-folder')]).stderr, /--help/);
  assert.doesNotMatch(expect(12, ['snapshots'], { HINDSIGHT_PASSWORD: '' }).stderr, /--help/);
  expect(12, ['snapshots'], { HINDSIGHT_PASSWORD: 'wrong' });
  expect(12, ['snapshots', '--password-file', join(dir, 'no-such-file')]);
  expect(10, ['snapshots'], { HINDSIGHT_REPO: join(dir, 'nothing-here') });
  expect(10, ['init'], { HINDSIGHT_REPO: join(dir, 'unmounted', 'repo') });
  expect(1, ['cat', `latest:${source}/missing`]);
  expect(1, ['restore', 'ffffffff', '--target', join(dir, 'out')]);
  // Done, with warnings: a socket in the source is not saved (it belongs to the program listening on it).
  const listening = createServer().listen(join(source, 'app.sock'));
  await once(listening, 'listening');
  try {
    assert.match(expect(3, ['backup', source]).stderr, /app\.sock: not saved: sockets are made by the program that listens on them/);
  } finally {
    listening.close();
  }

  const child = spawn(process.execPath, [holdLock, env.HINDSIGHT_REPO, 'pw', 'exclusive'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  try {
    expect(11, ['backup', source]);
    expect(11, ['prune']);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  // Damage: a flipped bit in a pack, found by reading; check says what is affected, and does not send the user to check.
  const data = join(env.HINDSIGHT_REPO, 'data');
  for (const folder of await readdir(data)) {
    const packs = await readdir(join(data, folder));
    if (packs.length > 0) {
      const pack = join(data, folder, packs[0] as string);
      const bytes = await readFile(pack);
      bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 1, bytes.length >> 1);
      await writeFile(pack, bytes);
      break;
    }
  }
  const damaged = expect(13, ['check', '--read-data']);
  assert.match(damaged.stdout, /is damaged or was modified \(.*\)\. Hindsight will not use it/);
  assert.doesNotMatch(damaged.stdout, /Run "hindsight check"|\.;/);
});

test('check advises prune only for what prune removes, and repair, never prune, for a target that is behind', async (t) => {
  const dir = await tempDir(t);
  const env = { HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  const source = join(dir, 'source');
  await mkdir(source);
  for (let i = 0; i < 6; i++) await writeFile(join(source, `large-${i}`), seededBytes(`large${i}`, 1024 * 1024));
  await writeFile(join(source, 'small'), seededBytes('small', 100 * 1024));

  // One repository: a pack 98% in use keeps its one unused chunk through prune, so no prune advice for it.
  const single = ['--repo', join(dir, 'single')];
  assert.equal(hindsight(['init', ...single], env).status, 0);
  assert.equal(hindsight(['backup', ...single, source], env).status, 0);
  await writeFile(join(source, 'small'), seededBytes('small, changed', 100 * 1024));
  assert.equal(hindsight(['backup', ...single, source], env).status, 0);
  assert.equal(hindsight(['forget', ...single, '--keep-last', '1', '--prune'], env).status, 0);
  const after = JSON.parse(hindsight(['check', ...single, '--json'], env).stdout) as { unusedBlobs: number; reclaimableBlobs: number };
  assert.ok(after.unusedBlobs > 0 && after.reclaimableBlobs === 0, JSON.stringify(after));
  const checked = hindsight(['check', ...single], env);
  assert.equal(checked.status, 0, checked.stderr);
  assert.doesNotMatch(checked.stdout, /prune/);

  // Two targets, one missing a snapshot: its data looks unused there, and pruning it alone would lose it.
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  const both = ['--repo', a, '--repo', b];
  assert.equal(hindsight(['init', ...both], env).status, 0);
  assert.equal(hindsight(['backup', ...both, source], env).status, 0);
  await writeFile(join(source, 'new'), seededBytes('new', 2 * 1024 * 1024));
  assert.equal(hindsight(['backup', ...both, source], env).status, 0);
  const snapshots = JSON.parse(hindsight(['snapshots', '--json', '--repo', b], env).stdout) as { id: string }[];
  await rm(join(b, 'snapshots', (snapshots[1] as { id: string }).id));
  const replicated = hindsight(['check', ...both], env);
  assert.equal(replicated.status, 13);
  const sectionB = replicated.stdout.slice(replicated.stdout.indexOf(`target ${b}`));
  assert.match(sectionB, /lacks 1 object/);
  assert.match(sectionB, /"hindsight repair" with every --repo/);
  assert.doesNotMatch(sectionB.split('\n').slice(0, -2).join('\n'), /reclaims|removes them/);
  // targets shows when each was last reached in local time, as every command does.
  const targets = hindsight(['targets', ...both], env).stdout;
  assert.match(targets, /; last success \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
  assert.doesNotMatch(targets, /\d{4}-\d\d-\d\dT\d\d:/);
});

test('restic\'s extras: backup --dry-run and --files-from, tag, cache --cleanup', async (t) => {
  const { dir, env, source } = await repositoryWithSnapshot(t);
  const repo = env.HINDSIGHT_REPO;
  const storedBefore = await describeTree(repo);
  await writeFile(join(source, 'new'), seededBytes('new', 1024 * 1024));
  await writeFile(join(source, 'file-7'), 'file 7, changed\n');
  const dry = hindsight(['backup', '--dry-run', '--exclude', 'file-1*', source], env);
  assert.equal(dry.status, 0, dry.stderr);
  // 2000 small files less the 1111 named file-1…, plus big and new; new is 1 MiB of new data, file-7 a few bytes,
  // and the folder tree of 891 entries grows much larger before compression.
  assert.match(dry.stdout, /^Dry run, compared with snapshot [0-9a-f]{8}: nothing was written$/m);
  assert.match(dry.stdout, /files: 1 new, 1 changed, 889 unchanged; 3 folders/);
  assert.match(dry.stdout, /would read 1\.0 MiB of 9\.\d MiB and add 1\.0 MiB to the repository \(1\.\d MiB before compression\)/);
  assertSameTree(await describeTree(repo), storedBefore);
  // What the dry run counts, the backup then adds.
  const wouldAdd = JSON.parse(hindsight(['backup', '--dry-run', '--json', '--exclude', 'file-1*', source], env).stdout.trim().split('\n').pop() as string) as Record<string, number>;
  const added = JSON.parse(hindsight(['backup', '--json', '--exclude', 'file-1*', source], env).stdout.trim().split('\n').pop() as string) as Record<string, number>;
  assert.equal(wouldAdd.type, 'dry-run');
  for (const key of ['filesNew', 'filesChanged', 'filesUnchanged', 'bytesRead', 'totalBytes', 'dataBlobsAdded', 'treeBlobsAdded']) assert.equal(wouldAdd[key], added[key], key);

  const list = join(dir, 'list');
  await writeFile(list, `# what to back up\n${source}/big\n\n${source}/new\n`);
  const fromList = hindsight(['backup', '--files-from', list], env);
  assert.equal(fromList.status, 0, fromList.stderr);
  const listed = JSON.parse(hindsight(['snapshots', '--json', '--path', `${source}/big`], env).stdout) as { id: string; paths: string[] }[];
  assert.deepEqual(listed.map((s) => s.paths), [[`${source}/big`, `${source}/new`]]);

  const id = (listed[0] as { id: string }).id;
  const tagged = hindsight(['tag', '--add', 'important', '--add', 'lists', id.slice(0, 8)], env);
  assert.equal(tagged.status, 0, tagged.stderr);
  assert.equal(JSON.parse(hindsight(['snapshots', '--json', '--tag', 'important,lists'], env).stdout).length, 1);
  const newId = (JSON.parse(hindsight(['snapshots', '--json', '--tag', 'important'], env).stdout)[0] as { id: string }).id;
  assert.equal(hindsight(['tag', '--remove', 'lists', newId], env).status, 0);
  assert.deepEqual((JSON.parse(hindsight(['snapshots', '--json', '--tag', 'important'], env).stdout)[0] as { tags: string[] }).tags, ['important']);
  assert.equal(hindsight(['tag', newId], env).status, 2);

  const cache = env.HINDSIGHT_CACHE_DIR;
  const gone = join(cache, 'a'.repeat(64));
  await mkdir(gone, { recursive: true });
  await writeFile(join(gone, 'files.sqlite'), '');
  const longAgo = new Date(Date.now() - 40 * 24 * 3600_000);
  await utimes(join(gone, 'files.sqlite'), longAgo, longAgo);
  await utimes(gone, longAgo, longAgo);
  const kept = (await readdir(cache)).filter((name) => name !== 'a'.repeat(64));
  const cleaned = hindsight(['cache', '--cleanup'], env);
  assert.equal(cleaned.status, 0, cleaned.stderr);
  assert.match(cleaned.stdout, /removed the cache of repository aaaaaaaa/);
  assert.deepEqual((await readdir(cache)).sort(), kept.sort());
});

test('polish: one time format, counts that agree with their nouns, aligned tags, clear messages', async (t) => {
  const { dir, env, source } = await repositoryWithSnapshot(t);
  const single = join(dir, 'single');
  await mkdir(single);
  await writeFile(join(single, 'only'), 'one file');
  assert.equal(hindsight(['backup', '--tag', 'a-long-tag-name', single], env).status, 0);

  const restored = hindsight(['restore', `latest:${single}`, '--target', join(dir, 'restored')], env);
  assert.match(restored.stdout, /  1 file \(8 B\), 0 folders, 0 symbolic links, 0 hard links, 0 FIFOs and device files; 0 existing files left as they were/);
  const onFile = hindsight(['restore', `latest:${single}`, '--target', join(single, 'only')], env);
  assert.equal(onFile.status, 1);
  assert.match(onFile.stderr, /Cannot restore into .*only: it is a file, not a folder\./);
  assert.doesNotMatch(onFile.stderr, /EEXIST/);

  const table = hindsight(['snapshots'], env).stdout.split('\n').filter((line) => line.includes('/'));
  const pathColumn = (line: string) => line.indexOf(' /');
  assert.equal(new Set(table.map(pathColumn)).size, 1, table.join('\n'));
  for (const args of [['key', 'list'], ['snapshots']]) assert.doesNotMatch(hindsight(args, env).stdout, /\d{4}-\d\d-\d\dT\d\d:/, `${args.join(' ')} shows local time`);

  // A relative path in versions is a path in the current folder.
  const versions = spawnSync(process.execPath, [bin, 'versions', 'file-7'], { cwd: source, env: { ...cleanEnv(), ...env }, encoding: 'utf8' });
  assert.equal(versions.status, 0, versions.stderr);
  assert.match(versions.stdout, /^file .* in 1 snapshot/m);

  // A repository inside the folder backed up is left out, with a word.
  const inner = join(single, 'repo');
  assert.equal(hindsight(['init', '--repo', inner], env).status, 0);
  const intoItself = hindsight(['backup', '--repo', inner, single], env);
  assert.equal(intoItself.status, 0, intoItself.stderr);
  assert.match(intoItself.stderr, /warning: the repository .*repo is inside .*single; it is left out of the backup\./);
  assert.doesNotMatch(hindsight(['ls', '--repo', inner, 'latest'], env).stdout, /repo/);

  // Counts agree with their nouns in check and prune too, and prune's total counts what it deleted.
  const oneOf = /\b1 (files|folders|snapshots|packs|chunks|objects|hard links|symbolic links|unused packs|leftover packs|sparse packs|unfinished writes)\b/;
  const checked = hindsight(['check', '--repo', inner, '--read-data'], env);
  assert.match(checked.stdout, /1 snapshot, /);
  assert.doesNotMatch(checked.stdout, oneOf);
  // A pack a killed backup was still writing: 1 MiB of unfinished write.
  await writeFile(join(inner, 'data', '00', '.tmp-0000000000000001'), seededBytes('unfinished', 1024 * 1024));
  const pruned = hindsight(['prune', '--repo', inner], env);
  assert.equal(pruned.status, 0, pruned.stderr);
  assert.match(pruned.stdout, /Prune did delete 1 unfinished write of interrupted backups \(1\.0 MiB\)/);
  assert.doesNotMatch(pruned.stdout, oneOf);
  const [before, after] = (/Repository data: (.+) → (.+)/.exec(pruned.stdout) ?? []).slice(1).map((size) => parseBytes(size) as number);
  assert.ok(Math.abs((before as number) - (after as number) - 1024 * 1024) < 0.15 * 1024 * 1024, pruned.stdout);

  // --retry-lock says what it waits for.
  const child = spawn(process.execPath, [holdLock, env.HINDSIGHT_REPO, 'pw', 'shared'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  try {
    const waited = hindsight(['prune', '--retry-lock', '2s'], env);
    assert.equal(waited.status, 11);
    assert.match(waited.stderr, /Waiting up to 2s for the shared lock held by .+@.+ \(pid \d+, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\) \(--retry-lock\)…/);
    assert.match(waited.stderr, /is in use: a shared lock is held by/);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
});
