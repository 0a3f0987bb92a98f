import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { Catalogue } from '../../../src-main/engine/catalogue/catalogue.js';
import { repositoryStats } from '../../../src-main/engine/catalogue/stats.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import type { Snapshot } from '../../../src-main/engine/snapshot/snapshot.js';
import { holdSqliteWriteLock } from '../../fixtures/sqliteWriter.js';
import { seededBytes } from '../../helpers/data.js';
import { describeTree, type EntryState } from '../../helpers/fileTree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

/**
 * Four states of a folder: edits, deletions, additions, a symlink retargeted, a file turned into a folder;
 * `archive/` is written once and never touched again, so later snapshots share its trees.
 */
async function writeState(source: string, k: number): Promise<void> {
  for (const name of ['docs', 'latest', 'shape', ...Array.from({ length: 4 }, (_, i) => `added-${i}.txt`)]) await rm(join(source, name), { recursive: true, force: true });
  await mkdir(join(source, 'docs', 'old'), { recursive: true });
  if (k === 0) {
    for (const folder of ['2024', '2025', join('2025', 'q4')]) {
      await mkdir(join(source, 'archive', folder), { recursive: true });
      for (let i = 0; i < 3; i++) await writeFile(join(source, 'archive', folder, `item-${i}.txt`), `${folder} item ${i}\n`);
    }
  }
  await writeFile(join(source, 'docs', 'report.txt'), k < 2 ? 'first draft\n' : `draft ${k}\n`);
  await writeFile(join(source, 'docs', 'stable.bin'), seededBytes('stable', 70_000));
  if (k !== 1) await writeFile(join(source, 'docs', 'old', 'notes.txt'), 'sometimes there\n');
  for (let i = 0; i <= k; i++) await writeFile(join(source, `added-${i}.txt`), `file ${i}\n`);
  await symlink(k < 3 ? 'docs/report.txt' : 'docs/stable.bin', join(source, 'latest'));
  if (k < 2) await writeFile(join(source, 'shape'), 'a file');
  else await mkdir(join(source, 'shape'));
}

/** Brute force: the restored tree of every snapshot, keyed by path relative to the source. */
type States = Map<string, Map<string, EntryState>>;

function relative(hex: string): string {
  return Buffer.from(hex, 'hex').toString();
}

test('versions, find, diff and stats agree with a brute-force walk of the restored snapshots; a rebuild answers the same', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const made = await createTestRepository(t);
  const snapshots: Snapshot[] = [];
  const states: States = new Map();
  // One catalogue brought up to date after every backup (unchanged folders are taken over from the
  // parent), one synced once at the end; both must give the brute-force answers.
  const incremental = new Catalogue(join(dir, 'incremental-catalogue'));
  t.after(() => incremental.close());
  let foldersReused = 0;
  for (let k = 0; k < 4; k++) {
    await writeState(source, k);
    const { snapshot } = await backup(await made.reopen(), { paths: [source], cacheDir: join(dir, 'cache') });
    snapshots.push(snapshot);
    const synced = await incremental.sync(await made.reopen());
    assert.equal(synced.added, 1);
    foldersReused += synced.foldersReused;
    const target = join(dir, `restored-${k}`);
    await restore(await made.reopen(), { snapshot, path: source, target });
    states.set(snapshot.id, new Map([...(await describeTree(target))].map(([hex, state]) => [relative(hex), state])));
  }
  const repository = await made.reopen();
  const catalogue = new Catalogue(join(dir, 'catalogue'));
  t.after(() => catalogue.close());
  const once = await catalogue.sync(repository);
  assert.deepEqual([once.added, once.removed], [4, 0]);
  // archive/ (with 2024, 2025 and 2025/q4 below it) is the same tree in snapshots 1–3, taken over three
  // times without reading what is below it; shape/ is the same empty folder in snapshots 2 and 3.
  assert.equal(foldersReused, 4);
  assert.equal(once.foldersReused, 4);

  // versions: group the snapshots by what the restored entry looked like (type, size, time, content, target).
  for (const path of ['docs/report.txt', 'docs/stable.bin', 'docs/old/notes.txt', 'docs', 'latest', 'shape', 'added-3.txt', 'never-existed']) {
    const expected = new Map<string, string[]>();
    for (const snapshot of snapshots) {
      const state = states.get(snapshot.id)?.get(path);
      if (!state) continue;
      const key = JSON.stringify({ ...state, mtimeUs: String(state.mtimeUs) });
      expected.set(key, [...(expected.get(key) ?? []), snapshot.id]);
    }
    const actual = catalogue.versions(`${source}/${path}`).map((v) => v.snapshots.map((s) => s.id).join());
    assert.deepEqual(actual.sort(), [...expected.values()].map((ids) => ids.join()).sort(), `versions of ${path}`);
  }
  // Rewritten in every state: four versions by time, the first two with the same content ("first draft").
  const reports = catalogue.versions(`${source}/docs/report.txt`);
  assert.equal(reports.length, 4);
  assert.equal(reports[0]?.content, reports[1]?.content);
  assert.notEqual(reports[1]?.content, reports[2]?.content);

  // find: every path whose name matches, with the snapshots holding it.
  const found = new Map(catalogue.find('*.txt').map((m) => [m.path, m.snapshots.map((s) => s.id).sort()]));
  const expectedFound = new Map<string, string[]>();
  for (const [id, state] of states) {
    for (const path of state.keys()) {
      if (!path.endsWith('.txt')) continue;
      expectedFound.set(`${source}/${path}`, [...(expectedFound.get(`${source}/${path}`) ?? []), id].sort());
    }
  }
  assert.deepEqual(found, expectedFound);
  assert.deepEqual(catalogue.find(`${source}/docs/*.bin`).map((m) => m.path), [`${source}/docs/stable.bin`]);

  // diff: compare consecutive restored trees directly.
  for (let k = 1; k < 4; k++) {
    const [a, b] = [snapshots[k - 1] as Snapshot, snapshots[k] as Snapshot];
    const [sa, sb] = [states.get(a.id) as Map<string, EntryState>, states.get(b.id) as Map<string, EntryState>];
    const expected: string[] = [];
    for (const [path, state] of sa) {
      const other = sb.get(path);
      if (!other) expected.push(`removed ${path}`);
      else if (!(state.type === 'dir' && other.type === 'dir') && JSON.stringify({ ...state, mtimeUs: String(state.mtimeUs) }) !== JSON.stringify({ ...other, mtimeUs: String(other.mtimeUs) })) expected.push(`modified ${path}`);
    }
    for (const path of sb.keys()) if (!sa.has(path)) expected.push(`added ${path}`);
    const actual = catalogue.diff(a.id, b.id).filter((c) => c.path.startsWith(`${source}/`)).map((c) => `${c.change} ${c.path.slice(source.length + 1)}`);
    assert.deepEqual(actual.sort(), expected.sort(), `diff ${k - 1} → ${k}`);
  }

  const stats = await repositoryStats(repository);
  assert.equal(stats.snapshots, 4);
  assert.equal(stats.files, [...(states.get(snapshots[3]?.id as string) as Map<string, EntryState>).values()].filter((s) => s.type === 'file').length);
  assert.ok(stats.dedupRatio > 3, 'four snapshots of mostly the same data');
  assert.ok(stats.storedBytes > 0 && stats.uniqueBytes >= 70_000);

  // A rebuilt catalogue gives identical answers.
  const answers = (c: Catalogue) => JSON.stringify([c.versions(`${source}/docs/report.txt`), c.find('*'), c.diff(snapshots[0]?.id as string, snapshots[3]?.id as string)]);
  const before = answers(catalogue);
  assert.equal(answers(incremental), before);
  for (const path of ['archive/2025/q4/item-1.txt', 'archive/2025/q4', 'archive', 'docs/report.txt']) {
    assert.deepEqual(incremental.versions(`${source}/${path}`), catalogue.versions(`${source}/${path}`), path);
  }
  assert.deepEqual(
    incremental.versions(`${source}/archive/2025/q4/item-1.txt`).map((v) => v.snapshots.length),
    [4],
    'one version of an untouched file, in all four snapshots',
  );
  catalogue.close();
  Catalogue.reset(join(dir, 'catalogue'));
  const rebuilt = new Catalogue(join(dir, 'catalogue'));
  assert.deepEqual(await rebuilt.sync(repository), { added: 4, removed: 0, foldersReused: 4 });
  assert.equal(answers(rebuilt), before);

  // A forgotten snapshot leaves the catalogue at the next sync.
  await repository.backend.delete({ type: 'snapshots', name: snapshots[0]?.id as string });
  assert.deepEqual(await rebuilt.sync(repository), { added: 0, removed: 1, foldersReused: 0 });
  assert.ok(!rebuilt.versions(`${source}/docs/report.txt`).some((v) => v.snapshots.some((s) => s.id === snapshots[0]?.id)));
  rebuilt.close();
});

test('a sync that drops snapshots waits for another process writing to the catalogue instead of failing with "database is locked"', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  const made = await createTestRepository(t);
  const snapshots: Snapshot[] = [];
  for (let i = 0; i < 2; i++) {
    await writeFile(join(source, 'file.txt'), `version ${i}`);
    snapshots.push((await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') })).snapshot);
  }
  const folder = join(dir, 'catalogue');
  const catalogue = new Catalogue(folder);
  t.after(() => catalogue.close());
  await catalogue.sync(made.repository);
  await made.repository.backend.delete({ type: 'snapshots', name: (snapshots[0] as Snapshot).id });
  // Another process (a second Hindsight) holds the catalogue's write lock for a moment, as its own sync would.
  const { exited } = await holdSqliteWriteLock(join(folder, 'catalogue.sqlite'), 400);
  const result = await catalogue.sync(made.repository);
  assert.deepEqual(await exited, [0, null]);
  assert.equal(result.removed, 1);
  assert.deepEqual(
    catalogue.versions(join(source, 'file.txt')).flatMap((v) => v.snapshots.map((s) => s.id)),
    [(snapshots[1] as Snapshot).id],
  );
});

test('two processes syncing one catalogue at once each add the new snapshots once, and both answer the same', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(join(source, 'sub'), { recursive: true });
  const made = await createTestRepository(t);
  for (let i = 0; i < 3; i++) {
    await writeFile(join(source, 'sub', 'file.txt'), `version ${i}`);
    await writeFile(join(source, `added-${i}.txt`), `added ${i}`);
    await backup(made.repository, { paths: [source], cacheDir: join(dir, 'cache') });
  }
  const folder = join(dir, 'catalogue');
  // Two connections to one catalogue file, as the agent and a command line would have.
  const first = new Catalogue(folder);
  const second = new Catalogue(folder);
  t.after(() => {
    first.close();
    second.close();
  });
  const [a, b] = await Promise.all([first.sync(made.repository), second.sync(await made.reopen())]);
  assert.equal(a.added + b.added, 3, `added ${a.added} and ${b.added}`);
  for (const catalogue of [first, second]) {
    assert.equal((await catalogue.sync(made.repository)).added, 0);
    const versions = catalogue.versions(join(source, 'sub', 'file.txt'));
    assert.deepEqual(versions.map((v) => v.snapshots.length), [1, 1, 1]);
  }
  const oldest = (first.versions(join(source, 'sub', 'file.txt'))[0]?.snapshots[0] as { id: string }).id;
  await made.repository.backend.delete({ type: 'snapshots', name: oldest });
  const [c, d] = await Promise.all([first.sync(made.repository), second.sync(await made.reopen())]);
  assert.equal(c.removed + d.removed, 1, `removed ${c.removed} and ${d.removed}`);
  for (const catalogue of [first, second]) assert.equal(catalogue.versions(join(source, 'sub', 'file.txt')).length, 2);
});
