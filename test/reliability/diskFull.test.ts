import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin, childEnv } from '../helpers/agentProcess.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { tempDir } from '../helpers/tempDir.js';
import { resizeTmpfs, tmpfsDir } from '../helpers/tmpfs.js';

function hindsight(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [bin, ...args], { env: childEnv(env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('a backup to a full disk fails with "is full", the repository stays consistent, and after freeing space a rerun completes', async (t) => {
  const disk = await tmpfsDir(t, 'size=6m');
  if (!disk) return;
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  await mkdir(source);
  for (let i = 0; i < 6; i++) await writeFile(join(source, `part-${i}.bin`), seededBytes(`full-${i}`, 2 * 1024 * 1024));
  const env = { HINDSIGHT_REPO: join(disk, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init', '--pack-size', '1MiB'], env).status, 0);

  const failed = hindsight(['backup', source], env);
  assert.equal(failed.status, 1, failed.stdout + failed.stderr);
  assert.match(failed.stderr, /is full/);
  assert.doesNotMatch(failed.stderr, /\n\s+at /, 'a message, not a stack trace');
  const leftovers = (await readdir(join(disk, 'repo'), { recursive: true })).filter((path) => path.includes('.tmp-'));
  assert.deepEqual(leftovers, [], 'packs written in part are removed, not left to fill the disk');
  const check = hindsight(['check'], env);
  assert.equal(check.status, 0, `consistent after the failure: ${check.stdout}${check.stderr}`);
  assert.match(hindsight(['snapshots'], env).stdout, /^0 snapshots/m);

  resizeTmpfs(disk, '64m');
  const rerun = hindsight(['backup', source], env);
  assert.equal(rerun.status, 0, rerun.stderr);
  const target = join(dir, 'restored');
  assert.equal(hindsight(['restore', `latest:${source}`, '--target', target], env).status, 0);
  assertSameTree(await describeTree(join(target)), await describeTree(source));
  assert.equal(hindsight(['check', '--read-data'], env).status, 0);
});
