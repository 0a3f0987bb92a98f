import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin, childEnv } from '../helpers/agentProcess.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { writeGeneration } from '../helpers/generations.js';
import { tempDir } from '../helpers/tempDir.js';

/** Kills per operation: a few in `npm test`, at least 50 in `npm run test:stress`. */
const KILLS = Number(process.env.HINDSIGHT_STRESS_KILLS ?? 1);
const SHAPE = { files: 60, bytes: 24 * 1024, halfChange: true };
type Operation = 'backup' | 'forget' | 'prune';

function hindsight(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [bin, ...args], { env: childEnv(env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function run(args: string[], env: Record<string, string>, killAfterMs: number): Promise<{ killed: boolean; status: number | null; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], { env: childEnv(env), stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.once('exit', (status, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', status, ms: Date.now() - started });
    }),
  );
}

test(`backup, forget and prune SIGKILLed at seeded random moments (${KILLS} each) never lose a saved snapshot`, { timeout: Math.max(600_000, KILLS * 3 * 20_000) }, async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init', '--pack-size', '256KiB'], env).status, 0);

  /** Every snapshot in the repository, by its generation tag. */
  const snapshots = () => {
    const listed = hindsight(['snapshots', '--json'], env);
    assert.equal(listed.status, 0, `the repository opens: ${listed.stderr}`);
    return (JSON.parse(listed.stdout) as { id: string; tags: string[] }[]).map((s) => ({ id: s.id, generation: Number(s.tags[0]?.slice(1)) }));
  };
  const restoresExactly = async (snapshot: { id: string; generation: number }, label: string) => {
    const expected = join(dir, `expected-${snapshot.generation}`);
    await writeGeneration(expected, snapshot.generation, SHAPE);
    const target = join(dir, `restored-${label}`);
    const restored = hindsight(['restore', `${snapshot.id}:${source}`, '--target', target], env);
    assert.equal(restored.status, 0, `${label}: ${restored.stderr}`);
    assertSameTree(await describeTree(target, { mtimes: false }), await describeTree(expected, { mtimes: false }));
  };

  let generation = 0;
  let seed = 20261123;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const figures = { kills: 0, interrupted: 0, finished: 0, snapshotsVerified: 0 };
  /** Snapshots whose command reported success; forget may remove them later, nothing else may. */
  const saved = new Set<string>();
  const forgotten = new Set<string>();
  /** Runs `args` to the end and returns how long it took. */
  const timed = (args: string[]) => {
    const started = Date.now();
    const result = hindsight(args, env);
    assert.equal(result.status, 0, `${args[0]}: ${result.stderr}`);
    return Date.now() - started;
  };
  // Kill moments scale with how long each operation takes with this build on this machine: timed once
  // here, then updated by every run that finishes. Fixed guesses went stale as the commands got faster
  // (a backup of this set came to finish in under the 370 ms its first kill waited).
  await writeGeneration(source, ++generation, SHAPE);
  const typicalMs: Record<Operation, number> = {
    backup: timed(['backup', '--tag', `g${generation}`, source]),
    forget: timed(['forget', '--keep-last', '3']),
    prune: timed(['prune', '--repack-below', '100%']),
  };
  for (const s of snapshots()) saved.add(s.id);

  for (let i = 0; i < KILLS * 3; i++) {
    const operation: Operation = (['backup', 'forget', 'prune'] as const)[i % 3] as Operation;
    // Every round brings new data and new garbage, so each operation has real work to be killed in.
    await writeGeneration(source, ++generation, SHAPE);
    const args =
      operation === 'backup'
        ? ['backup', '--tag', `g${generation}`, source]
        : operation === 'forget'
          ? ['forget', '--keep-last', '3']
          : ['prune', '--repack-below', '100%'];
    if (operation !== 'backup') {
      const prepared = hindsight(['backup', '--tag', `g${generation}`, source], env);
      assert.equal(prepared.status, 0, prepared.stderr);
      for (const s of snapshots()) saved.add(s.id);
    }
    const listedBefore = snapshots();
    const before = new Set(listedBefore.map((s) => s.id));
    // What forget --keep-last 3 may remove: all but the three newest (the list is oldest first).
    const doomed = new Set(listedBefore.slice(0, Math.max(0, listedBefore.length - 3)).map((s) => s.id));
    const outcome = await run(args, env, Math.floor(random() * typicalMs[operation] * 1.2));
    figures.kills += 1;
    if (outcome.killed) figures.interrupted += 1;
    else {
      assert.equal(outcome.status, 0, `${operation} ${i} failed on its own`);
      figures.finished += 1;
      typicalMs[operation] = Math.round((typicalMs[operation] + outcome.ms) / 2);
    }
    const after = snapshots();
    if (operation === 'backup' && !outcome.killed) for (const s of after) saved.add(s.id);
    for (const id of before) {
      if (after.some((s) => s.id === id)) continue;
      assert.ok(operation === 'forget' && doomed.has(id), `snapshot ${id.slice(0, 8)} vanished in a killed ${operation}, and the policy keeps it`);
      forgotten.add(id);
    }
    for (const id of saved) {
      assert.ok(forgotten.has(id) || after.some((s) => s.id === id), `snapshot ${id.slice(0, 8)} was lost by a killed ${operation}`);
    }
    // Nothing a snapshot references is missing; leftovers of the killed process are allowed (prune removes them).
    const check = hindsight(['check'], env);
    assert.equal(check.status, 0, `check after killed ${operation} ${i}: ${check.stdout}${check.stderr}`);
    const pick = after[Math.floor(random() * after.length)];
    if (pick) {
      await restoresExactly(pick, `${i}`);
      figures.snapshotsVerified += 1;
    }
  }

  // A rerun of each operation completes, and every snapshot left restores exactly.
  for (const args of [['backup', '--tag', `g${generation}`, source], ['forget', '--keep-last', '3'], ['prune']]) {
    const rerun = hindsight(args, env);
    assert.equal(rerun.status, 0, `${args[0]} rerun: ${rerun.stderr}`);
  }
  const readData = hindsight(['check', '--read-data'], env);
  assert.equal(readData.status, 0, readData.stdout);
  for (const s of snapshots()) {
    await restoresExactly(s, `final-${s.id}`);
    figures.snapshotsVerified += 1;
  }
  t.diagnostic(`crash figures: ${JSON.stringify(figures)}`);
  assert.ok(figures.interrupted >= Math.ceil(KILLS), `only ${figures.interrupted} of ${figures.kills} runs were interrupted`);
});
