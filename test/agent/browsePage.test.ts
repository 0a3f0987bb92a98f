import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAgent } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

test('snapshots.browsePage: a big folder in pages, folders first, sorted by name (numbers as numbers), size or time, filtered by name', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'Downloads');
  await mkdir(source);
  const files = 1200;
  for (let i = 0; i < files; i++) {
    const file = join(source, `file-${i}.txt`);
    await writeFile(file, 'x'.repeat(i % 7));
    await utimes(file, 1_700_000_000 + i, 1_700_000_000 + i);
  }
  for (const [folder, time] of [['b-folder', 1_600_000_000], ['a-folder', 1_500_000_000]] as const) {
    await mkdir(join(source, folder));
    await utimes(join(source, folder), time, time);
  }
  const agent = await startAgent(t);
  const { client } = agent;
  const repository = join(dir, 'repo');
  await client.call('repositories.create', { location: repository, password: 'pw', remember: false });
  const plan = await client.call('plans.create', { name: 'downloads', sources: [source], targets: [repository], schedule: { kind: 'manual' } });
  const backup = await agent.finished((await client.call('jobs.backup', { planId: plan.id })).id);
  assert.equal(backup.result, 'succeeded', backup.message);
  const snapshot = (await client.call('snapshots.list', { repository }))[0]!.id;
  const page = (params: { offset?: number; limit?: number; sort?: 'name' | 'size' | 'mtime'; descending?: boolean; filter?: string; foldersOnly?: boolean }) =>
    client.call('snapshots.browsePage', { repository, snapshot, path: source, ...params });

  const first = await page({ limit: 5 });
  assert.equal(first.total, files + 2);
  assert.deepEqual(first.entries.map((e) => e.name), ['a-folder', 'b-folder', 'file-0.txt', 'file-1.txt', 'file-2.txt'], 'folders first, then names with numbers in numeric order');
  const last = await page({ offset: files, limit: 500 });
  assert.deepEqual(last.entries.map((e) => e.name), ['file-1198.txt', 'file-1199.txt']);
  assert.equal(last.offset, files);

  // Every entry exactly once across pages.
  const seen = new Set<string>();
  for (let offset = 0; offset < files + 2; offset += 500) for (const e of (await page({ offset, limit: 500 })).entries) seen.add(e.name);
  assert.equal(seen.size, files + 2);

  const newest = await page({ sort: 'mtime', descending: true, limit: 3 });
  assert.deepEqual(newest.entries.map((e) => e.name).slice(0, 3), ['b-folder', 'a-folder', 'file-1199.txt'], 'newest first, and folders first still');
  const biggest = await page({ sort: 'size', descending: true, limit: 4, filter: 'FILE-11' });
  assert.equal(biggest.total, 111, 'file-11, file-110..119, file-1100..1199: a case-insensitive filter');
  assert.ok(biggest.entries.every((e) => e.size === 6));
  assert.deepEqual((await page({ foldersOnly: true })).entries.map((e) => e.name), ['a-folder', 'b-folder']);
  await assert.rejects(page({ limit: 5000 }), { code: 'E_INVALID_PARAMS' });
});
