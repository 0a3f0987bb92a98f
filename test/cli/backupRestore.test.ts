import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, buildAwkwardTree, describeTree } from '../helpers/fileTree.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

function hindsight(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  return spawnSync(process.execPath, [bin, ...args], { env: { ...clean, ...env }, encoding: 'buffer', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

test('backup, snapshots, ls, cat and restore from the command line', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 50 });
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);

  const first = hindsight(['backup', '--tag', 'first', source], env);
  assert.equal(first.status, 0, first.stderr.toString());
  // The first backup of these paths has no parent to compare with: a full one, and it says so.
  assert.match(first.stdout.toString(), /Snapshot [0-9a-f]{8} saved \(full\)/);
  assert.match(first.stdout.toString(), /files: \d+ new, 0 changed, 0 unchanged/);

  const json = hindsight(['backup', '--json', source], env);
  assert.equal(json.status, 0, json.stderr.toString());
  const lines = json.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = lines.at(-1) as Record<string, unknown>;
  assert.equal(summary.type, 'summary');
  assert.equal(summary.filesRead, 0);
  assert.ok(lines.some((l) => l.type === 'progress' && typeof l.bytesDone === 'number'));

  const list = JSON.parse(hindsight(['snapshots', '--json'], env).stdout.toString()) as { id: string; tags: string[] }[];
  assert.equal(list.length, 2);
  assert.deepEqual(list[0]?.tags, ['first']);
  assert.match(hindsight(['snapshots'], env).stdout.toString(), /2 snapshots/);

  const ls = hindsight(['ls', `${list[0]?.id.slice(0, 6)}:${source}`], env).stdout.toString();
  assert.match(ls, /^-rw-r--r-- .*\/source\/hello\.txt$/m);
  assert.match(ls, /^l.*\/source\/links\/to-hello -> \.\.\/hello\.txt$/m);
  assert.match(ls, /line\\x0abreak/, 'control characters in names are escaped');

  const cat = hindsight(['cat', `latest:${source}/random.bin`], env);
  assert.equal(cat.status, 0, cat.stderr.toString());
  assert.ok(cat.stdout.equals(seededBytes('random', 3 * 1024 * 1024 + 77)));

  const target = join(dir, 'restored');
  const restored = hindsight(['restore', `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.stderr.toString());
  assertSameTree(await describeTree(target), await describeTree(source));

  await writeFile(join(target, 'hello.txt'), 'edited after restore');
  const never = hindsight(['restore', `latest:${source}`, '--target', target, '--overwrite', 'never', '--include', 'hello.txt'], env);
  assert.equal(never.status, 0);
  assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), 'edited after restore');
  assert.equal(hindsight(['restore', `latest:${source}`, '--target', target, '--include', 'hello.txt'], env).status, 0);
  assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), 'hello world\n');

  assert.equal(hindsight(['restore', 'ffffffff', '--target', target], env).status, 1);
  assert.match(hindsight(['restore', 'ffffffff', '--target', target], env).stderr.toString(), /No snapshot matches "ffffffff"/);
  assert.match(hindsight(['cat', `latest:${source}/nope.txt`], env).stderr.toString(), /has no .*nope\.txt/);
});

test('a backup killed at random moments leaves a repository that opens, and the next backup restores exactly', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 1000 });
  for (let i = 0; i < 6; i++) await writeFile(join(source, `big${i}.bin`), seededBytes(`big${i}`, 12 * 1024 * 1024));
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init', '--pack-size', '2MiB'], env).status, 0);
  let state = 7;
  for (let run = 0; run < 5; run++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const delay = 100 + (state % 900);
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
    const child = spawn(process.execPath, [bin, 'backup', source], { env: { ...clean, ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    await new Promise((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    // The repository opens after every kill (a stale lock of a dead process does not block).
    assert.equal(hindsight(['snapshots'], env).status, 0, `after kill ${run}`);
  }
  const finished = hindsight(['backup', source], env);
  assert.equal(finished.status, 0, finished.stderr.toString());
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
});

test('backup counts the sources for its progress totals unless told --no-scan', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 40 });
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const progressOf = (args: string[]) => {
    const result = hindsight(['backup', '--json', ...args, source], env);
    assert.equal(result.status, 0, result.stderr.toString());
    const lines = result.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    return { progress: lines.filter((l) => l.type === 'progress'), summary: lines.at(-1) as Record<string, unknown> };
  };
  // No parent to borrow totals from: without the count there are none.
  const unscanned = progressOf(['--no-scan']);
  assert.ok(unscanned.progress.length > 0);
  assert.ok(unscanned.progress.every((l) => l.filesTotal === undefined && l.bytesTotal === undefined));
  const scanned = progressOf(['--type', 'full']);
  const last = scanned.progress.at(-1) as Record<string, unknown>;
  assert.equal(last.filesTotal, scanned.summary.totalFiles);
  assert.equal(last.bytesTotal, scanned.summary.totalBytes);
  assert.ok((last.filesTotal as number) > 40);
});

test('on a terminal, backup shows a live progress line', async (t) => {
  if (spawnSync('script', ['--version']).error) {
    t.skip('util-linux "script" is not installed; it provides the pseudo-terminal');
    return;
  }
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await buildAwkwardTree(source, { smallFiles: 200 });
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} backup ${JSON.stringify(source)}`;
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { env: { ...clean, ...env }, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout);
  // A line rewritten in place: carriage return, clear to end of line, elapsed time, files, bytes, rate.
  assert.match(result.stdout, /\r\x1b\[K\[\d+(ms|s)\] (\d+% )?\d+(\/\d+)? files, [\d.]+ (B|KiB|MiB)(\/[\d.]+ (B|KiB|MiB))?, [\d.]+ (B|KiB|MiB)\/s/);
  assert.match(result.stdout, /Snapshot [0-9a-f]{8} saved/);
});
