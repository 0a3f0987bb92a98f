import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applySmallChange, applyTreeMutation, planSmallChange, planTreeMutation } from './mutations.js';
import { listTree } from './tree.js';

const files = Array.from({ length: 5000 }, (_, i) => ({ path: `d${i % 50}/f${String(i).padStart(5, '0')}.c`, size: i % 97 === 0 ? 0 : 100 + ((i * 7919) % 300_000) }));
const folders = Array.from({ length: 50 }, (_, i) => `d${i}`);
const bytes = files.reduce((sum, f) => sum + f.size, 0);

test('small change: 1% of the files, half touched and half edited, a few added and deleted, all distinct', () => {
  const plan = planSmallChange({ files, folders });
  assert.equal(plan.touch.length + plan.edit.length, 50);
  assert.ok(plan.touch.length >= 25 && plan.edit.length > 0);
  assert.equal(plan.add.length, 5);
  assert.equal(plan.delete.length, 5);
  const picked = [...plan.touch, ...plan.edit.map((e) => e.path), ...plan.delete];
  assert.equal(new Set(picked).size, picked.length);
  const sizes = new Map(files.map((f) => [f.path, f.size]));
  for (const edit of plan.edit) assert.ok(edit.length > 0 && edit.offset + edit.length <= (sizes.get(edit.path) as number));
  for (const add of plan.add) assert.ok(!sizes.has(add.path) && folders.some((f) => add.path.startsWith(`${f}/`)));
});

test('small change and tree mutation are deterministic: same listing, same plan', () => {
  assert.deepEqual(planSmallChange({ files, folders }), planSmallChange({ files: [...files], folders }));
  assert.deepEqual(planTreeMutation({ files, folders, bytes }), planTreeMutation({ files, folders, bytes }));
  assert.notDeepEqual(planSmallChange({ files, folders }), planSmallChange({ files, folders }, 'another seed'));
});

test('tree mutation inserts about 2% of the bytes into the largest files', () => {
  const plan = planTreeMutation({ files, folders, bytes });
  const inserted = plan.insert.reduce((sum, i) => sum + i.length, 0);
  assert.ok(inserted >= bytes * 0.02 && inserted <= bytes * 0.02 + 1, `${inserted} of ${bytes}`);
  const smallest = Math.min(...plan.insert.map((i) => files.find((f) => f.path === i.path)?.size ?? 0));
  assert.ok(files.filter((f) => f.size > smallest).length < plan.insert.length, 'only the largest files');
  assert.equal(plan.add.length, 100);
  assert.equal(plan.delete.length, 100);
  assert.ok(plan.delete.every((path) => !plan.insert.some((i) => i.path === path)));
});

test('applying the plans: touched files keep their bytes, edits keep the size, inserts grow the file', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bench-mutations-'));
  try {
    for (let d = 0; d < 4; d++) {
      await mkdir(join(root, `d${d}`));
      for (let f = 0; f < 60; f++) await writeFile(join(root, `d${d}`, `f${f}.txt`), `file ${d}/${f} `.repeat(f * 40 + 1));
    }
    const before = await listTree(root);
    const small = planSmallChange(before);
    const touched = small.touch[0] as string;
    const content = await readFile(join(root, touched));
    const mtime = (await stat(join(root, touched))).mtimeMs;
    const edited = small.edit[0] as { path: string };
    const editedBefore = await readFile(join(root, edited.path));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await applySmallChange(root, small);
    assert.deepEqual(await readFile(join(root, touched)), content);
    assert.ok((await stat(join(root, touched))).mtimeMs > mtime);
    const editedAfter = await readFile(join(root, edited.path));
    assert.equal(editedAfter.length, editedBefore.length);
    assert.notDeepEqual(editedAfter, editedBefore);
    const after = await listTree(root);
    assert.equal(after.files.length, before.files.length + small.add.length - small.delete.length);
    const mutation = planTreeMutation(after);
    await applyTreeMutation(root, mutation);
    const grown = mutation.insert[0] as { path: string; length: number };
    assert.equal((await stat(join(root, grown.path))).size, (after.files.find((f) => f.path === grown.path)?.size ?? 0) + grown.length);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
