import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { checkRepository } from '../../../src-main/engine/maintenance/check.js';
import { prune } from '../../../src-main/engine/maintenance/prune.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { listSnapshots, type Snapshot } from '../../../src-main/engine/snapshot/snapshot.js';
import { writeGeneration } from '../../helpers/generations.js';
import { assertSameTree, describeTree } from '../../helpers/fileTree.js';
import { bytesUnder } from '../../helpers/folderSize.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

const KiB = 1024;

test('forget then prune: the repository shrinks and every remaining snapshot restores exactly', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'home');
  const made = await createTestRepository(t, { packSize: 512 * KiB });
  const snapshots: Snapshot[] = [];
  for (let g = 0; g < 6; g++) {
    await writeGeneration(source, g);
    snapshots.push((await backup(await made.reopen(), { paths: [source], cacheDir: join(dir, 'cache') })).snapshot);
  }
  const kept = [snapshots[1], snapshots[4], snapshots[5]] as Snapshot[];
  const repository = await made.reopen();
  for (const s of snapshots) if (!kept.includes(s)) await repository.backend.delete({ type: 'snapshots', name: s.id });

  const sizeBefore = await bytesUnder(made.path, { except: 'locks' });
  const dry = await prune(await made.reopen(), { dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.equal(await bytesUnder(made.path, { except: 'locks' }), sizeBefore, 'a dry run changes nothing');
  assert.ok(dry.packsToDelete + dry.packsToRepack > 0);

  const result = await prune(await made.reopen());
  const sizeAfter = await bytesUnder(made.path, { except: 'locks' });
  assert.ok(sizeAfter < sizeBefore * 0.8, `repository went from ${sizeBefore} to ${sizeAfter} bytes`);
  assert.equal(result.bytesAfter, await bytesUnder(join(made.path, 'data')));

  const after = await made.reopen();
  assert.deepEqual((await listSnapshots(after)).map((s) => s.id).sort(), kept.map((s) => s.id).sort());
  const check = await checkRepository(after, { readData: { kind: 'all' } });
  assert.deepEqual(check.errors, []);
  assert.deepEqual(check.unreferencedPacks, []);
  // At the default threshold a pack at least 80% live is kept whole, unused blobs and all.
  assert.ok(check.unusedBlobs <= result.blobsUnused);
  for (const [i, snapshot] of kept.entries()) {
    const generation = [1, 4, 5][i] as number;
    const expected = join(dir, `expected-${generation}`);
    await writeGeneration(expected, generation);
    const target = join(dir, `restored-${generation}`);
    const restored = await restore(after, { snapshot, path: source, target });
    assert.deepEqual(restored.problems, []);
    assertSameTree(await describeTree(target, { mtimes: false }), await describeTree(expected, { mtimes: false }));
  }
  // Only one index generation remains: the old files were superseded and deleted.
  assert.equal((await readdir(join(made.path, 'index'))).length, 1);
  // Repacking everything below 100% live leaves no unused blob at all.
  await prune(await made.reopen(), { repackBelow: 1 });
  const final = await checkRepository(await made.reopen(), { readData: { kind: 'all' } });
  assert.deepEqual(final.errors, []);
  assert.equal(final.unusedBlobs, 0);
});

test('prune refuses when a snapshot uses data that is missing, and changes nothing', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'home');
  await writeGeneration(source, 2);
  const made = await createTestRepository(t);
  await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') });
  const indexDir = join(made.path, 'index');
  for (const name of await readdir(indexDir)) await rm(join(indexDir, name));
  const before = await bytesUnder(made.path, { except: 'locks' });
  await assert.rejects(prune(await made.reopen()), { code: 'E_DAMAGED', message: /missing from the index; nothing was pruned/ });
  assert.equal(await bytesUnder(made.path, { except: 'locks' }), before);
});

test('prune removes the temporary files of writes a killed backup never finished, and no lock in progress', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'home');
  const made = await createTestRepository(t);
  await writeGeneration(source, 0);
  const { snapshot } = await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') });
  // A pack a killed process was writing as it filled: appended to, never committed nor given up.
  const half = made.repository.backend.createWriter?.({ type: 'data', name: 'ab'.repeat(32) });
  assert.ok(half);
  await half.append(Buffer.alloc(300 * KiB, 1));
  // Someone taking a lock writes its file without holding one: that is left alone.
  await writeFile(join(made.path, 'locks', '.tmp-0123456789abcdef'), 'a lock being written');
  const temporary = async () => (await readdir(made.path, { recursive: true })).filter((path) => path.includes('.tmp-')).sort();
  assert.equal((await temporary()).length, 2);

  const dry = await prune(await made.reopen(), { dryRun: true });
  assert.deepEqual([dry.unfinishedWrites, dry.unfinishedBytes], [1, 300 * KiB]);
  assert.equal((await temporary()).length, 2, 'a dry run deletes nothing');
  const result = await prune(await made.reopen());
  assert.deepEqual([result.unfinishedWrites, result.unfinishedBytes], [1, 300 * KiB]);
  assert.deepEqual(await temporary(), [join('locks', '.tmp-0123456789abcdef')]);

  const after = await made.reopen();
  assert.deepEqual((await checkRepository(after)).errors, []);
  const target = join(dir, 'restored');
  assert.deepEqual((await restore(after, { snapshot, path: source, target })).problems, []);
  assertSameTree(await describeTree(target, { mtimes: false }), await describeTree(source, { mtimes: false }));
});
