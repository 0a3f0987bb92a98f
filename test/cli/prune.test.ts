import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { writeGeneration } from '../helpers/generations.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
const holdLock = fileURLToPath(new URL('../fixtures/holdLock.js', import.meta.url));
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));

function hindsight(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [bin, ...args], { env: { ...cleanEnv(), ...env }, encoding: 'utf8' });
}

function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.once('close', (status, signal) => resolve({ status, signal, output })),
  );
  return { child, done };
}

test('prune refuses while a backup runs, and with --retry-lock waits for it', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await writeGeneration(source, 0);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  assert.equal(hindsight(['backup', source], env).status, 0);
  for (let i = 0; i < 4; i++) await writeFile(join(source, `big${i}.bin`), seededBytes(`big${i}`, 48 * 1024 * 1024));

  // The upload limit (16 MiB/s for 192 MiB) keeps the backup, and its lock, alive for seconds on any machine.
  const running = start(['backup', '--limit-upload', '16384', source], env);
  // Wait until the backup holds its lock.
  while ((await readdir(join(dir, 'repo', 'locks'))).length === 0) await sleep(20);
  const refused = hindsight(['prune'], env);
  assert.equal(refused.status, 11, refused.stderr);
  assert.match(refused.stderr, /is in use: a shared lock is held by .* \(pid \d+\)/);

  const waiting = start(['prune', '--retry-lock', '2m'], env);
  const backupRun = await running.done;
  assert.equal(backupRun.status, 0, backupRun.output);
  const pruneRun = await waiting.done;
  assert.equal(pruneRun.status, 0, pruneRun.output);
  const check = hindsight(['check', '--read-data'], env);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(target), await describeTree(source));
});

test('forget --retry-lock waits for a lock another process holds, saying whose, and goes on once it is gone; without it, forget refuses at once', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const repo = join(dir, 'repo');
  const env = { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  for (let g = 0; g < 2; g++) {
    await writeGeneration(source, g);
    assert.equal(hindsight(['backup', source], env).status, 0);
  }
  const holder = spawn(process.execPath, [holdLock, repo, 'pw', 'shared'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  await once(holder.stdout, 'data');

  const refused = hindsight(['forget', '--keep-last', '1'], env);
  assert.equal(refused.status, 11, refused.stderr);
  assert.match(refused.stderr, /is in use: a shared lock is held by .* \(pid \d+\)/);

  const waiting = start(['forget', '--keep-last', '1', '--prune', '--retry-lock', '2m'], env);
  const said = new RegExp(`Waiting up to 2m00s for the shared lock held by .+@.+ \\(pid ${holder.pid}, since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\) \\(--retry-lock\\)…`);
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const listen = (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!said.test(stderr)) return;
      waiting.child.stderr?.off('data', listen);
      resolve();
    };
    waiting.child.stderr?.on('data', listen);
    void waiting.done.then((run) => reject(new Error(`forget ended (${run.status}) without saying it waits:\n${run.output}`)));
  });
  assert.equal(waiting.child.exitCode, null, 'still waiting');
  holder.kill('SIGKILL');
  const run = await waiting.done;
  assert.equal(run.status, 0, run.output);
  assert.match(run.output, /1 snapshot kept, 1 removed/);
  assert.match(run.output, /Repository data: /, 'the prune ran after it');
  const check = hindsight(['check', '--read-data'], env);
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('a prune killed at random moments never loses data a snapshot uses', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  const shape = { files: 400, bytes: 3000, halfChange: true };
  assert.equal(hindsight(['init', '--pack-size', '64KiB'], env).status, 0);
  const backupGeneration = async (g: number) => {
    await writeGeneration(source, g, shape);
    const run = hindsight(['backup', '--tag', `g${g}`, source], env);
    assert.equal(run.status, 0, run.stderr);
  };
  /** Snapshots still in the repository, by generation. */
  const keptSnapshots = () => {
    const kept = new Map<number, string>();
    for (const s of JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as { id: string; tags: string[] }[]) kept.set(Number(s.tags[0]?.slice(1)), s.id);
    return kept;
  };
  const verify = async (label: string) => {
    const check = hindsight(['check'], env);
    assert.equal(check.status, 0, `${label}: ${check.stdout}${check.stderr}`);
    for (const [generation, id] of keptSnapshots()) {
      const expected = join(dir, `expected-${generation}`);
      await writeGeneration(expected, generation, shape);
      const target = join(dir, `restored-${label}-${generation}`);
      const restored = hindsight(['restore', `${id}:${source}`, '--target', target], env);
      assert.equal(restored.status, 0, `${label}: ${restored.stdout}${restored.stderr}`);
      assertSameTree(await describeTree(target, { mtimes: false }), await describeTree(expected, { mtimes: false }));
    }
  };
  for (let g = 0; g < 3; g++) await backupGeneration(g);

  let state = 11;
  let killed = 0;
  const phases: string[] = [];
  const runs = 6;
  for (let run = 0; run < runs; run++) {
    // New garbage every time: one more generation, and the oldest but the first forgotten.
    await backupGeneration(3 + run);
    assert.equal(hindsight(['forget', '--keep-last', '2', '--keep-tag', 'g0'], env).status, 0);
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const before = await repositoryFiles(join(dir, 'repo'));
    const pruning = start(['prune', '--repack-below', '100%'], env);
    // Runs 0–3 kill at the first sign of each phase (a new pack, a new index file, an old index
    // file deleted, a pack deleted); the others after a seeded delay from when prune takes its lock.
    const trigger = (['packAdded', 'indexAdded', 'indexDeleted', 'packDeleted'] as const)[run];
    const watchers = trigger ? watchPhase(join(dir, 'repo'), before, trigger, () => pruning.child.kill('SIGKILL')) : [];
    let finished = false;
    void pruning.done.then(() => (finished = true));
    let timer: NodeJS.Timeout | undefined;
    if (!trigger) {
      while (!finished && (await readdir(join(dir, 'repo', 'locks'))).length === 0) await sleep(2);
      timer = setTimeout(() => pruning.child.kill('SIGKILL'), state % 300);
    }
    const outcome = await pruning.done;
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
    if (outcome.signal === 'SIGKILL') {
      killed += 1;
      phases.push(phaseReached(before, await repositoryFiles(join(dir, 'repo'))));
    } else assert.equal(outcome.status, 0, outcome.output);
    await verify(`run${run}`);
  }
  t.diagnostic(`${killed} of ${runs} prunes were killed before they finished, in these phases: ${phases.join(', ')}`);
  assert.ok(killed >= 3, `only ${killed} prunes were interrupted`);
  assert.ok(phases.some((p) => p !== 'before any change'), 'no kill landed after prune had started changing the repository');
  const finished = hindsight(['prune', '--repack-below', '100%'], env);
  assert.equal(finished.status, 0, finished.stderr);
  const readData = hindsight(['check', '--read-data'], env);
  assert.equal(readData.status, 0, readData.stdout);
  assert.doesNotMatch(readData.stdout, /not in any index|no longer used/);
  await verify('final');
});

async function repositoryFiles(repo: string): Promise<{ packs: Set<string>; indexes: Set<string> }> {
  const packs = new Set<string>();
  for (const entry of await readdir(join(repo, 'data'), { recursive: true, withFileTypes: true })) if (entry.isFile()) packs.add(entry.name);
  return { packs, indexes: new Set(await readdir(join(repo, 'index'))) };
}

/** How far an interrupted prune got, judged from what it left on disk. */
function phaseReached(before: Awaited<ReturnType<typeof repositoryFiles>>, after: Awaited<ReturnType<typeof repositoryFiles>>): string {
  const packsAdded = [...after.packs].some((p) => !before.packs.has(p));
  const packsRemoved = [...before.packs].some((p) => !after.packs.has(p));
  const indexChanged = [...after.indexes].some((i) => !before.indexes.has(i));
  const oldIndexGone = [...before.indexes].some((i) => !after.indexes.has(i));
  if (packsRemoved) return 'deleting packs';
  if (oldIndexGone) return 'deleting old index files';
  if (indexChanged) return 'new index written';
  if (packsAdded) return 'repacking';
  return 'before any change';
}

/** Calls `kill` on the first file-system event that shows prune reached a phase. */
function watchPhase(
  repo: string,
  before: Awaited<ReturnType<typeof repositoryFiles>>,
  phase: 'packAdded' | 'indexAdded' | 'indexDeleted' | 'packDeleted',
  kill: () => void,
): FSWatcher[] {
  let fired = false;
  const fire = () => {
    if (!fired) {
      fired = true;
      kill();
    }
  };
  const folder = phase.startsWith('pack') ? join(repo, 'data') : join(repo, 'index');
  const known = phase.startsWith('pack') ? before.packs : before.indexes;
  return [
    watch(folder, { recursive: phase.startsWith('pack') }, (_event, filename) => {
      const name = String(filename ?? '').split('/').pop() ?? '';
      if (!/^[0-9a-f]{64}$/.test(name)) return;
      const path = phase.startsWith('pack') ? join(folder, name.slice(0, 2), name) : join(folder, name);
      const exists = existsSync(path);
      if ((phase.endsWith('Added') && exists && !known.has(name)) || (phase.endsWith('Deleted') && !exists && known.has(name))) fire();
    }),
  ];
}
