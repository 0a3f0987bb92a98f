import assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FolderWatcher } from '../../src-main/agent/folderWatcher.js';
import { tempDir } from '../helpers/tempDir.js';

/** A watcher on `root` that collects what it reports; `seen(path)` waits until that path is reported. */
async function watching(t: TestContext, root: string, excluded: (path: string) => boolean = () => false) {
  const reported = new Set<string>();
  const waiting = new Map<string, () => void>();
  const watcher = new FolderWatcher(root, {
    isExcluded: (path) => excluded(path),
    onChange: (path) => {
      reported.add(path);
      waiting.get(path)?.();
    },
    onError: (err) => assert.fail(err),
  });
  await watcher.start();
  t.after(() => watcher.close());
  const seen = (path: string) =>
    reported.has(path)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${path} was not reported; reported: ${[...reported].join(', ')}`)), 5_000);
          waiting.set(path, () => {
            clearTimeout(timer);
            resolve();
          });
        });
  return { reported, seen };
}

test('changes anywhere in the tree are reported, in folders created after the start too', async (t) => {
  const root = await tempDir(t);
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  await writeFile(join(root, 'a', 'b', 'old.txt'), 'old');
  const { seen } = await watching(t, root);

  await writeFile(join(root, 'a', 'b', 'old.txt'), 'edited');
  await seen(join(root, 'a', 'b', 'old.txt'));

  await mkdir(join(root, 'new'));
  await seen(join(root, 'new'));
  // Give the new folder's watch a moment; what was created before it is covered by reporting the folder.
  await new Promise((resolve) => setTimeout(resolve, 200));
  await mkdir(join(root, 'new', 'deeper'));
  await seen(join(root, 'new', 'deeper'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await writeFile(join(root, 'new', 'deeper', 'later.txt'), 'later');
  await seen(join(root, 'new', 'deeper', 'later.txt'));

  await rename(join(root, 'a'), join(root, 'moved'));
  await seen(join(root, 'a'));
  await seen(join(root, 'moved'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await writeFile(join(root, 'moved', 'b', 'old.txt'), 'after the move');
  await seen(join(root, 'moved', 'b', 'old.txt'));

  await rm(join(root, 'new'), { recursive: true });
  await seen(join(root, 'new'));
});

test('excluded folders are not watched and excluded entries not reported', async (t) => {
  const root = await tempDir(t);
  await mkdir(join(root, 'node_modules', 'pkg'), { recursive: true });
  await mkdir(join(root, 'src'));
  const { reported, seen } = await watching(t, root, (path) => path.includes('node_modules') || path.endsWith('.swp'));
  await writeFile(join(root, 'node_modules', 'pkg', 'index.js'), 'ignored');
  await writeFile(join(root, 'src', '.main.c.swp'), 'editor junk');
  await writeFile(join(root, 'src', 'main.c'), 'kept');
  await seen(join(root, 'src', 'main.c'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual([...reported].filter((path) => path.includes('node_modules') || path.endsWith('.swp')), []);
});

test('a file watched by itself is still seen after an editor replaces it', async (t) => {
  const root = await tempDir(t);
  const file = join(root, 'notes.txt');
  await writeFile(file, 'first');
  const { reported, seen } = await watching(t, file);
  await writeFile(join(root, 'notes.txt.tmp'), 'second');
  await rename(join(root, 'notes.txt.tmp'), file);
  await seen(file);
  reported.clear();
  await writeFile(file, 'third');
  await seen(file);
});
