import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../src-main/engine/archiver/backup.js';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { checkRepository } from '../../src-main/engine/maintenance/check.js';
import { forgetSnapshots } from '../../src-main/engine/maintenance/forget.js';
import { prune } from '../../src-main/engine/maintenance/prune.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { restore } from '../../src-main/engine/restorer/restore.js';
import { listSnapshots } from '../../src-main/engine/snapshot/snapshot.js';
import { PowerLossFileSystem, type PowerLossOptions } from '../fixtures/powerLossFileSystem.js';
import { seededRandom } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { writeGeneration } from '../helpers/generations.js';
import { tempDir } from '../helpers/tempDir.js';
import { FAST_KDF, TEST_PASSWORD } from '../helpers/testRepository.js';

/** Power cuts: a few in `npm test`, many in `npm run test:stress`. */
const CUTS = Number(process.env.HINDSIGHT_POWER_CUTS ?? 6);
const SEED = Number(process.env.HINDSIGHT_POWER_SEED ?? 20261123);
const SHAPE = { files: 24, bytes: 16 * 1024, halfChange: true };
/** Small packs and an index file every two packs: a backup makes many objects, so cuts land between them. */
const CONFIG = { password: TEST_PASSWORD, kdf: FAST_KDF, packSize: 64 * 1024 };
const OPTIONS = { packsPerIndex: 2 };

/** What the tests have been told so far, which every later disk must honour. */
interface History {
  readonly dir: string;
  readonly source: string;
  generation: number;
  /** init has resolved: the repository must open after every later cut. */
  initialised: boolean;
  /** Snapshots a backup reported saved, by id, with their generation. */
  readonly saved: Map<string, number>;
  /** Snapshots a finished forget removed: they must never come back. */
  readonly forgotten: Set<string>;
  /** Snapshots a forget cut short may have removed (its policy drops them). */
  mayVanish: Set<string>;
}

/**
 * One round of work on `disk` through the file system `fs`: init when there
 * is no repository yet, two backups, and on odd rounds forget and prune.
 * Records in `history` what each finished step reported.
 */
async function work(history: History, disk: string, fs: PowerLossFileSystem, round: number): Promise<void> {
  const backend = new LocalBackend(join(disk, 'repo'), fs);
  let repository: Repository;
  if (history.initialised) repository = await Repository.open(backend, TEST_PASSWORD, OPTIONS);
  else {
    repository = await Repository.init(backend, CONFIG, OPTIONS);
    history.initialised = true;
  }
  for (let i = 0; i < 2; i++) {
    const generation = ++history.generation;
    await writeGeneration(history.source, generation, SHAPE);
    const { snapshot } = await backup(repository, { paths: [history.source], tags: [`g${generation}`], cacheDir: join(history.dir, 'cache') });
    history.saved.set(snapshot.id, generation);
  }
  if (round % 2 === 1) {
    const before = await listSnapshots(repository);
    history.mayVanish = new Set(before.slice(0, -2).map((s) => s.id));
    const decisions = await forgetSnapshots(repository, { last: 2 });
    for (const d of decisions.filter((d) => !d.keep)) {
      history.saved.delete(d.snapshot.id);
      history.forgotten.add(d.snapshot.id);
    }
    history.mayVanish = new Set();
    await repository.withLock(true, () => prune(repository, { repackBelow: 1 }));
  }
}

/**
 * What must hold on the disk a cut left: the repository opens, `check
 * --read-data` is clean, every snapshot a backup reported is there (unless a
 * forget was allowed to drop it), none a finished forget removed is back,
 * and every snapshot there restores byte for byte.
 */
async function verify(history: History, disk: string, label: string): Promise<number> {
  let repository: Repository;
  try {
    repository = await Repository.open(new LocalBackend(join(disk, 'repo')), TEST_PASSWORD);
  } catch (err) {
    if (!history.initialised) return 0;
    throw err;
  }
  try {
    // The locks of the process the cut stopped: after a reboot nobody holds them.
    await repository.unlock(true);
    const check = await checkRepository(repository, { readData: { kind: 'all' } });
    assert.deepEqual(check.errors, [], `${label}: check`);
    const snapshots = await listSnapshots(repository);
    const present = new Set(snapshots.map((s) => s.id));
    for (const [id, generation] of history.saved) {
      if (present.has(id)) continue;
      assert.ok(history.mayVanish.has(id), `${label}: snapshot ${id.slice(0, 8)} (generation ${generation}) was reported saved and is gone`);
      history.saved.delete(id);
    }
    for (const id of history.forgotten) assert.ok(!present.has(id), `${label}: forgotten snapshot ${id.slice(0, 8)} is back`);
    for (const snapshot of snapshots) {
      const generation = Number(snapshot.tags[0]?.slice(1));
      const expected = join(history.dir, 'expected');
      const target = join(history.dir, 'restored');
      await writeGeneration(expected, generation, SHAPE);
      const result = await restore(repository, { snapshot, path: history.source, target });
      assert.deepEqual(result.problems, [], `${label}: restore of generation ${generation}`);
      assertSameTree(await describeTree(target, { mtimes: false }), await describeTree(expected, { mtimes: false }));
      await rm(target, { recursive: true });
      history.saved.set(snapshot.id, generation);
    }
    return snapshots.length;
  } finally {
    history.mayVanish = new Set();
    await repository.close();
  }
}

function newHistory(dir: string): History {
  return { dir, source: join(dir, 'source'), generation: 0, initialised: false, saved: new Map(), forgotten: new Set(), mayVanish: new Set() };
}

/** Runs a round of work on `disk`, cuts the power after `cutAfter` changes (or at its end), and writes the disk the cut left to `next`. */
async function cutRound(history: History, disk: string, next: string, round: number, model: PowerLossOptions) {
  const fs = await PowerLossFileSystem.load(disk, model);
  let finished = false;
  try {
    await work(history, disk, fs, round);
    finished = true;
  } catch (err) {
    if (!fs.isCut) throw err;
  }
  fs.cut();
  await fs.materialize(next);
  await rm(disk, { recursive: true });
  return { finished, changes: fs.changes };
}

test(`the local backend survives ${CUTS} simulated power cuts: only fsync'd changes are kept, and everything reported saved restores exactly`, { timeout: Math.max(600_000, CUTS * 20_000) }, async (t) => {
  const dir = await tempDir(t);
  const history = newHistory(dir);
  const random = seededRandom(SEED);
  // Changes a round makes (init alone makes ~280: 256 data folders), learnt as rounds go: a cut round
  // was longer than guessed, a finished one says how long it was. Cuts spread over whole rounds that way.
  const typical = { init: 400, backups: 100, forget: 200 };
  const figures = { cuts: 0, midRound: 0, afterRound: 0, snapshotsRestored: 0 };
  let disk = join(dir, 'disk-0');
  await mkdir(disk);
  for (let round = 0; round < CUTS; round++) {
    const kind = !history.initialised ? 'init' : round % 2 === 1 ? 'forget' : 'backups';
    const cutAfter = 1 + Math.floor(random() * typical[kind] * 1.1);
    const next = join(dir, `disk-${round + 1}`);
    const label = `cut ${round} (seed ${SEED}, ${kind} round, after change ${cutAfter})`;
    const outcome = await cutRound(history, disk, next, round, { seed: SEED + round, cutAfter });
    figures.cuts += 1;
    if (outcome.finished) {
      figures.afterRound += 1;
      typical[kind] = Math.round((typical[kind] + outcome.changes) / 2);
    } else {
      figures.midRound += 1;
      typical[kind] = Math.round(typical[kind] * 1.15);
    }
    disk = next;
    figures.snapshotsRestored += await verify(history, disk, label);
  }

  // With the power on for good, a rerun completes and leaves a clean repository.
  const steady = await PowerLossFileSystem.load(disk, { seed: SEED });
  await work(history, disk, steady, 1);
  figures.snapshotsRestored += await verify(history, disk, 'final run');
  t.diagnostic(`power-loss figures: ${JSON.stringify(figures)}`);
  assert.ok(figures.midRound >= Math.ceil(CUTS / 3), `only ${figures.midRound} of ${figures.cuts} cuts fell inside a round`);
});

for (const broken of ['fileSyncIsLost', 'folderSyncIsLost'] as const) {
  test(`the power-loss model catches a backend whose ${broken === 'fileSyncIsLost' ? 'file' : 'folder'} fsyncs promise nothing`, async (t) => {
    const dir = await tempDir(t);
    let caught = 0;
    for (let attempt = 0; attempt < 4 && caught === 0; attempt++) {
      const history = newHistory(join(dir, `attempt-${attempt}`));
      await mkdir(history.dir);
      const disk = join(history.dir, 'disk-0');
      await mkdir(disk);
      // A first round with sound fsyncs makes the repository; the broken second one is cut when it has finished.
      await cutRound(history, disk, join(history.dir, 'disk-1'), 0, { seed: attempt });
      await cutRound(history, join(history.dir, 'disk-1'), join(history.dir, 'disk-2'), 0, { seed: 100 + attempt, [broken]: true });
      await verify(history, join(history.dir, 'disk-2'), 'broken').catch(() => (caught += 1));
    }
    assert.ok(caught > 0, 'every cut left a sound repository although fsync did nothing');
  });
}
