import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import type { AgentEvent, JobRecord, Method, Params, Result } from '../../src-shared/api.js';
import { DragRestorer } from '../../src-main/app/dragRestore.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * An agent that "restores" by writing the item's name into the target, and
 * finishes the job before the call returns (the race prepare must survive).
 */
function fakeAgent(options: { fail?: boolean } = {}) {
  const listeners = new Set<(event: AgentEvent) => void>();
  const restores: Params<'jobs.restore'>[] = [];
  let n = 0;
  return {
    restores,
    onEvent(listener: (event: AgentEvent) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
      if (method === 'snapshots.browse') {
        const { path } = params as Params<'snapshots.browse'>;
        return (path === '/home/ann' ? [{ name: 'notes.txt', type: 'file', mtime: '' }, { name: 'other.txt', type: 'file', mtime: '' }, { name: 'photos', type: 'dir', mtime: '' }] : []) as Result<M>;
      }
      assert.equal(method, 'jobs.restore');
      const p = params as Params<'jobs.restore'>;
      restores.push(p);
      const path = p.paths?.[0] as string;
      // As the engine does: a file lands in the target, a folder's contents fill the target.
      if (!options.fail) {
        const into = path.endsWith('photos') ? join(p.target, 'cat.jpg') : join(p.target, basename(path));
        await mkdir(dirname(into), { recursive: true });
        await writeFile(into, `restored ${path}`);
      }
      const job: JobRecord = { id: `job${++n}`, kind: 'restore', startedAt: '', result: options.fail ? 'failed' : 'succeeded', warnings: 0, ...(options.fail ? { message: 'the disk is gone' } : {}) };
      for (const listener of listeners) listener({ type: 'job.finished', job });
      return { ...job, result: 'queued' } as Result<M>;
    },
  };
}

const item = { repository: '/media/disk', snapshot: 'abcdef12', path: '/home/ann/notes.txt' };

test('prepare restores into a fresh folder once per item, even when the job finishes before its record returns', async (t) => {
  const dir = await tempDir(t);
  const agent = fakeAgent();
  const drag = new DragRestorer(agent, join(dir, 'drag'));
  const file = await drag.prepare(item);
  assert.equal(file.startsWith(join(dir, 'drag', 'drag-')), true, file);
  assert.equal(basename(file), 'notes.txt');
  assert.equal(await readFile(file, 'utf8'), 'restored /home/ann/notes.txt');
  assert.equal(await drag.prepare(item), file, 'the same item is not restored twice');
  assert.equal(agent.restores.length, 1);
  assert.deepEqual(agent.restores[0], { repository: item.repository, snapshot: item.snapshot, paths: [item.path], target: dirname(file), overwrite: 'always' });

  const folder = await drag.prepare({ ...item, path: '/home/ann/photos' });
  assert.equal(basename(folder), 'photos', 'a folder is dragged as itself, not as its contents');
  assert.deepEqual(await readdir(folder), ['cat.jpg']);
});

test('items that are not in the snapshot are refused before anything is restored', async (t) => {
  const dir = await tempDir(t);
  const agent = fakeAgent();
  const drag = new DragRestorer(agent, join(dir, 'drag'));
  for (const path of ['/home/ann/missing.txt', '/']) await assert.rejects(drag.prepare({ ...item, path }), { code: 'E_DRAG_RESTORE' }, path);
  assert.equal(agent.restores.length, 0);
});

test('a failed restore leaves no folder behind and nothing to drag', async (t) => {
  const dir = await tempDir(t);
  const drag = new DragRestorer(fakeAgent({ fail: true }), join(dir, 'drag'));
  await assert.rejects(drag.prepare(item), (err: Error & { code?: string }) => err.code === 'E_DRAG_RESTORE' && /the disk is gone/.test(err.message));
  assert.deepEqual(await readdir(join(dir, 'drag')), []);
  assert.equal(drag.fileFor(item), undefined);
});

test('sweep removes prepared folders past their age and folders a previous run left; clear removes everything', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'drag');
  let now = 1_000_000;
  const drag = new DragRestorer(fakeAgent(), root, { maxAgeMs: 60_000, now: () => now });
  await mkdir(join(root, 'drag-leftover'), { recursive: true });
  await writeFile(join(root, 'not-ours.txt'), 'kept');
  const old = await drag.prepare(item);
  now += 50_000;
  const fresh = await drag.prepare({ ...item, path: '/home/ann/other.txt' });
  await drag.sweep();
  assert.equal((await readdir(root)).length, 3, 'two prepared folders and the file that is not ours; the leftover is gone');
  now += 20_000;
  await drag.sweep();
  assert.equal(drag.fileFor(item), undefined, 'expired');
  assert.equal(drag.fileFor({ ...item, path: '/home/ann/other.txt' }), fresh);
  const left = await readdir(root);
  assert.equal(left.includes('not-ours.txt'), true);
  assert.equal(left.some((name) => old.includes(name)), false);
  await drag.clear();
  assert.deepEqual(await readdir(dir), []);
});
