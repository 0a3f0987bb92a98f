import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { bin, childEnv } from '../helpers/agentProcess.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { writeGeneration } from '../helpers/generations.js';
import { tempDir } from '../helpers/tempDir.js';

/**
 * What a malicious or broken storage server can do with the files it holds,
 * and what Hindsight does about it (docs/SECURITY.md lists the same cases).
 */

function hindsight(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [bin, ...args], { env: childEnv(env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function repositoryWithTwoSnapshots(t: TestContext) {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const repo = join(dir, 'repo');
  const env = { HINDSIGHT_REPO: repo, HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init', '--pack-size', '256KiB'], env).status, 0);
  for (const g of [1, 2]) {
    await writeGeneration(source, g, { files: 20, bytes: 40 * 1024 });
    assert.equal(hindsight(['backup', '--tag', `g${g}`, source], env).status, 0);
  }
  const packs = async () => (await readdir(join(repo, 'data'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return { dir, source, repo, env, packs };
}

test('two packs swapped by the storage: both are reported damaged, and restore refuses the wrong bytes', async (t) => {
  const { dir, source, env, packs } = await repositoryWithTwoSnapshots(t);
  const [a, b] = (await packs()).slice(0, 2) as [string, string];
  await rename(a, `${a}.tmp`);
  await rename(b, a);
  await rename(`${a}.tmp`, b);
  const check = hindsight(['check', '--read-data'], env);
  assert.equal(check.status, 13, check.stdout);
  for (const pack of [a, b]) assert.match(check.stdout, new RegExp(pack.split('/').pop()?.slice(0, 16) as string));
  const restored = hindsight(['restore', `latest:${source}`, '--target', join(dir, 'out')], env);
  assert.notEqual(restored.status, 0, 'a restore touching a swapped pack does not pass it off as good');
  // A swapped tree pack stops the restore; a swapped data pack fails only the files in it. Either way the bad bytes are named, never used.
  assert.match(restored.stderr + restored.stdout, /damaged or was modified|authentication|truncated/);
});

test('an old index file replayed after prune is ignored: the index that replaced it names it', async (t) => {
  const { dir, source, repo, env } = await repositoryWithTwoSnapshots(t);
  const saved = join(dir, 'old-index');
  await mkdir(saved);
  for (const name of await readdir(join(repo, 'index'))) await copyFile(join(repo, 'index', name), join(saved, name));
  assert.equal(hindsight(['forget', '--keep-last', '1'], env).status, 0);
  assert.equal(hindsight(['prune', '--repack-below', '100%'], env).status, 0);
  // The storage puts the old index files back: they name packs prune deleted.
  for (const name of await readdir(saved)) await copyFile(join(saved, name), join(repo, 'index', name));
  const check = hindsight(['check', '--read-data'], env);
  assert.equal(check.status, 0, check.stdout);
  const target = join(dir, 'out');
  assert.equal(hindsight(['restore', `latest:${source}`, '--target', target], env).status, 0);
  await writeGeneration(join(dir, 'expected'), 2, { files: 20, bytes: 40 * 1024 });
  assertSameTree(await describeTree(target, { mtimes: false }), await describeTree(join(dir, 'expected'), { mtimes: false }));
});

test('a snapshot deleted by the storage is simply gone; the others are untouched', async (t) => {
  const { dir, source, repo, env } = await repositoryWithTwoSnapshots(t);
  const [first] = await readdir(join(repo, 'snapshots'));
  const listed = JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as { id: string; tags: string[] }[];
  const victim = listed.find((s) => s.tags.includes('g1'));
  assert.ok(victim && first);
  await rm(join(repo, 'snapshots', victim.id));
  const after = JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as { id: string; tags: string[] }[];
  assert.deepEqual(after.map((s) => s.tags), [['g2']]);
  assert.equal(hindsight(['check', '--read-data'], env).status, 0, 'what is left is consistent');
  const target = join(dir, 'out');
  assert.equal(hindsight(['restore', `latest:${source}`, '--target', target], env).status, 0);
  await writeGeneration(join(dir, 'expected'), 2, { files: 20, bytes: 40 * 1024 });
  assertSameTree(await describeTree(target, { mtimes: false }), await describeTree(join(dir, 'expected'), { mtimes: false }));
});

test('a key file rolled back after a password change makes the old password work again (documented); a forged one never opens', async (t) => {
  const { dir, repo, env } = await repositoryWithTwoSnapshots(t);
  const keys = join(repo, 'keys');
  const [oldKey] = await readdir(keys);
  assert.ok(oldKey);
  const oldBytes = await readFile(join(keys, oldKey));
  const newPasswordFile = join(dir, 'new-password');
  await writeFile(newPasswordFile, 'new password');
  const changed = hindsight(['key', 'passwd', '--new-password-file', newPasswordFile], env);
  assert.equal(changed.status, 0, changed.stderr);
  assert.equal(hindsight(['snapshots'], env).status, 12, 'the old password no longer opens the repository');
  assert.equal(hindsight(['snapshots'], { ...env, HINDSIGHT_PASSWORD: 'new password' }).status, 0);
  // The storage kept a copy of the old key file and puts it back.
  await writeFile(join(keys, oldKey), oldBytes);
  assert.equal(hindsight(['snapshots'], env).status, 0, 'a rolled-back key file opens with the old password: change the master key (a new repository) when a password leaks');
  // A key file of the attacker's own making opens nothing.
  await writeFile(join(keys, 'f'.repeat(64)), seededBytes('forged', oldBytes.length));
  assert.equal(hindsight(['snapshots'], { ...env, HINDSIGHT_PASSWORD: 'attacker' }).status, 12);
});
