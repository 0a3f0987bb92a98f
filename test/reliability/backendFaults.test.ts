import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { HindsightError } from '../../src-shared/errors.js';
import { backup } from '../../src-main/engine/archiver/backup.js';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { RetryingBackend } from '../../src-main/engine/backend/retryingBackend.js';
import { checkRepository } from '../../src-main/engine/maintenance/check.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { restore } from '../../src-main/engine/restorer/restore.js';
import type { Snapshot } from '../../src-main/engine/snapshot/snapshot.js';
import { ALL_FAULTS, FaultyBackend, type FaultCounts } from '../fixtures/faultyBackend.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { writeGeneration } from '../helpers/generations.js';
import { assertNoPartialObjects } from '../helpers/partialObjects.js';
import { tempDir } from '../helpers/tempDir.js';
import { FAST_KDF, TEST_PASSWORD } from '../helpers/testRepository.js';

/** Backups under faults: a few in `npm test`, many in `npm run test:stress`. */
const RUNS = Number(process.env.HINDSIGHT_FAULT_RUNS ?? 4);
/** Share of backend calls that fail; a backup makes ~60 calls, so some complete and some fail. */
const RATE = Number(process.env.HINDSIGHT_FAULT_RATE ?? 0.04);
const SEED = 4100;
const SHAPE = { files: 40, bytes: 16 * 1024, halfChange: true };
/** Retries as the remote backends do, with waits of a few ms. */
const RETRY = { attempts: 6, baseDelayMs: 2, maxDelayMs: 20 };

/** How the CLI would show it: a typed error prints its message alone, so it must be one line a person can read. */
function assertCleanFailure(err: unknown, label: string): void {
  assert.ok(err instanceof HindsightError, `${label}: not a typed error, the CLI would print a stack trace: ${(err as Error)?.stack ?? String(err)}`);
  assert.doesNotMatch(err.message, /\n/, `${label}: one line`);
  assert.doesNotMatch(err.message, /undefined|\[object /, `${label}: a message for a person`);
  // The faults are in transit only: blaming the stored data would send the user to repair a sound repository.
  assert.doesNotMatch(err.message, /damaged|modified/, `${label}: no false alarm`);
}

test(`backups with ${RATE * 100}% of backend calls failing (timeouts, short reads, partial writes, EIO, ENOSPC) complete or fail cleanly, and a run without faults then completes and restores exactly`, { timeout: Math.max(600_000, RUNS * 10_000) }, async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const folder = join(dir, 'repo');
  const cacheDir = join(dir, 'cache');
  await (await Repository.init(new LocalBackend(folder), { password: TEST_PASSWORD, kdf: FAST_KDF, packSize: 64 * 1024 })).close();
  const figures = { runs: 0, completed: 0, failedCleanly: 0, reruns: 0, restores: 0, restoresUnderFaults: { exact: 0, withProblems: 0, failedCleanly: 0 }, messages: new Set<string>() };
  const faults: FaultCounts = { calls: 0, before: 0, midway: 0, after: 0, timeout: 0, shortRead: 0, eio: 0, enospc: 0 };

  for (let run = 0; run < RUNS; run++) {
    const label = `run ${run} (seed ${SEED + run})`;
    await writeGeneration(source, run + 1, SHAPE);
    const faulty = new FaultyBackend(new LocalBackend(folder), { failureRate: RATE, seed: SEED + run, kinds: ALL_FAULTS });
    let saved: Snapshot | undefined;
    try {
      const repository = await Repository.open(new RetryingBackend(faulty, RETRY), TEST_PASSWORD, { packsPerIndex: 2 });
      try {
        saved = (await backup(repository, { paths: [source], cacheDir })).snapshot;
      } finally {
        await repository.close();
      }
      figures.completed += 1;
    } catch (err) {
      assertCleanFailure(err, label);
      figures.failedCleanly += 1;
      figures.messages.add((err as Error).message.replace(/[0-9a-f]{16,}/g, '…').replace(/ on \/\S+/g, ''));
    }
    figures.runs += 1;
    if (saved) {
      // A restore under the same faults finishes exactly, or names what it could not restore, or fails cleanly.
      const target = join(dir, 'restored-under-faults');
      try {
        const repository = await Repository.open(new RetryingBackend(faulty, RETRY), TEST_PASSWORD);
        try {
          const result = await restore(repository, { snapshot: saved, path: source, target });
          if (result.problems.length === 0) assertSameTree(await describeTree(target), await describeTree(source));
          for (const problem of result.problems) assert.doesNotMatch(problem.message, /\n|damaged|modified/, `${label}: restore problem on one line, no false alarm`);
          figures.restoresUnderFaults[result.problems.length === 0 ? 'exact' : 'withProblems'] += 1;
        } finally {
          await repository.close();
        }
      } catch (err) {
        assertCleanFailure(err, `${label} restore`);
        figures.restoresUnderFaults.failedCleanly += 1;
      }
      await rm(target, { recursive: true, force: true });
    }
    for (const key of Object.keys(faults) as (keyof FaultCounts)[]) faults[key] += faulty.counts[key];

    // What the faults left: whole objects only, and a repository a fault-free run completes and restores from.
    await assertNoPartialObjects(new LocalBackend(folder), folder);
    const clean = await Repository.open(new LocalBackend(folder), TEST_PASSWORD);
    try {
      if (!saved) {
        saved = (await backup(clean, { paths: [source], cacheDir })).snapshot;
        figures.reruns += 1;
      }
      const check = await checkRepository(clean, { readData: { kind: 'all' } });
      assert.deepEqual(check.errors, [], `${label}: check --read-data`);
      const target = join(dir, 'restored');
      const result = await restore(clean, { snapshot: saved, path: source, target });
      assert.deepEqual(result.problems, [], `${label}: restore`);
      assertSameTree(await describeTree(target), await describeTree(source));
      await rm(target, { recursive: true });
      figures.restores += 1;
    } finally {
      await clean.close();
    }
  }

  const injected = ALL_FAULTS.reduce((sum, kind) => sum + faults[kind], 0);
  t.diagnostic(`fault figures: ${JSON.stringify({ ...figures, messages: [...figures.messages], faultsInjected: injected, faults })}`);
  assert.ok(injected >= RUNS, `only ${injected} faults in ${faults.calls} calls`);
});
