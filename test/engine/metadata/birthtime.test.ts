import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backup } from '../../../src-main/engine/archiver/backup.js';
import { restore } from '../../../src-main/engine/restorer/restore.js';
import { TreeLoader } from '../../../src-main/engine/snapshot/treeLoader.js';
import { walkTree } from '../../../src-main/engine/snapshot/walkTree.js';
import type { TreeNode } from '../../../src-main/engine/snapshot/tree.js';
import { tempDir } from '../../helpers/tempDir.js';
import { createTestRepository } from '../../helpers/testRepository.js';

test('creation times are recorded where the file system keeps them; on Linux a restore cannot set them and says nothing of it', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  mkdirSync(join(source, 'folder'), { recursive: true });
  writeFileSync(join(source, 'file'), 'x');
  const born = statSync(join(source, 'file'), { bigint: true }).birthtimeNs;
  if (born === 0n) return void t.skip('the temporary folder\'s file system records no creation time');
  const { repository } = await createTestRepository(t);
  const { snapshot } = await backup(repository, { paths: [source], cacheDir: join(dir, 'cache') });
  const nodes = new Map<string, TreeNode>();
  for await (const { path, node } of walkTree(new TreeLoader(repository), Buffer.from(snapshot.tree, 'hex'), Buffer.alloc(0))) nodes.set(path.toString(), node);
  assert.equal(nodes.get(join(source, 'file'))?.birthtimeNs, born);
  assert.equal(nodes.get(join(source, 'folder'))?.birthtimeNs, statSync(join(source, 'folder'), { bigint: true }).birthtimeNs);

  const target = join(dir, 'restored');
  const result = await restore(repository, { snapshot, target, path: source });
  assert.deepEqual(result.problems, []);
  if (process.platform === 'linux') assert.ok(statSync(join(target, 'file'), { bigint: true }).birthtimeNs > born, 'Linux gives a restored file the time it was made');
});
