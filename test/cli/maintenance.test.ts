import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeGeneration } from '../helpers/generations.js';
import { bytesUnder } from '../helpers/folderSize.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

function hindsight(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  return spawnSync(process.execPath, [bin, ...args], { env: { ...clean, ...env }, encoding: 'utf8' });
}

test('forget shows its decisions, removes only what no rule keeps, and --prune frees the space', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init', '--pack-size', '256KiB'], env).status, 0);
  for (let g = 0; g < 5; g++) {
    await writeGeneration(source, g, { files: 8, bytes: 100 * 1024 });
    assert.equal(hindsight(['backup', ...(g === 1 ? ['--tag', 'keeper'] : []), source], env).status, 0);
  }
  assert.equal(hindsight(['forget'], env).status, 2, 'no rule given');
  assert.match(hindsight(['forget'], env).stderr, /No --keep-… rule given; refusing to remove every snapshot/);

  const dry = hindsight(['forget', '--keep-last', '2', '--keep-tag', 'keeper', '--dry-run'], env);
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal((dry.stdout.match(/^keep /gm) ?? []).length, 3);
  assert.equal((dry.stdout.match(/^remove /gm) ?? []).length, 2);
  assert.match(dry.stdout, /^keep .* keeper .* tag keeper$/m);
  assert.match(dry.stdout, /^keep .* last snapshot$/m);
  assert.match(dry.stdout, /3 snapshots kept, 2 would be removed/);
  assert.equal((JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as unknown[]).length, 5, 'a dry run removes nothing');

  const before = await bytesUnder(join(dir, 'repo', 'data'));
  const real = hindsight(['forget', '--keep-last', '2', '--keep-tag', 'keeper', '--prune'], env);
  assert.equal(real.status, 0, real.stderr);
  assert.match(real.stdout, /Prune did delete \d+ unused packs?/);
  assert.equal((JSON.parse(hindsight(['snapshots', '--json'], env).stdout) as unknown[]).length, 3);
  assert.ok((await bytesUnder(join(dir, 'repo', 'data'))) < before, 'the repository shrank');
  const check = hindsight(['check', '--read-data'], env);
  assert.equal(check.status, 0, check.stdout);
  assert.match(check.stdout, /3 snapshots, \d+ folders?, \d+ packs? checked, read \d+ chunks? in \d+ packs?: no errors found/);
});

test('versions, find, diff, stats and cache rebuild from the command line; check exits 13 on damage', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(hindsight(['init'], env).status, 0);
  const ids: string[] = [];
  for (let g = 0; g < 3; g++) {
    await writeGeneration(source, g, { files: 4, bytes: 2000 });
    const run = hindsight(['backup', '--json', source], env);
    ids.push((JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as { snapshot: string }).snapshot);
  }
  const versions = JSON.parse(hindsight(['versions', '--json', `${source}/docs/file0.bin`], env).stdout) as { snapshots: { id: string }[] }[];
  // file0 is rewritten from generation 1 on: generation 0's content, then 1's, then 2's.
  assert.deepEqual(versions.map((v) => v.snapshots.map((s) => s.id)), [[ids[0]], [ids[1]], [ids[2]]]);
  assert.match(hindsight(['versions', `${source}/docs/file3.bin`], env).stdout, /in 1 snapshot/);

  const found = JSON.parse(hindsight(['find', '--json', 'only-in-*'], env).stdout) as { path: string }[];
  assert.deepEqual(found.map((f) => f.path.split('/').pop()), ['only-in-0.txt', 'only-in-1.txt', 'only-in-2.txt']);

  const diff = hindsight(['diff', ids[0]?.slice(0, 8) as string, 'latest'], env).stdout;
  assert.match(diff, /^\+ .*only-in-2\.txt/m);
  assert.match(diff, /^- .*only-in-0\.txt/m);
  assert.match(diff, /^M .*docs\/file0\.bin/m);
  assert.match(diff, /1 added, 1 removed, \d+ modified/);

  const stats = JSON.parse(hindsight(['stats', '--json'], env).stdout) as { snapshots: number; dedupRatio: number };
  assert.equal(stats.snapshots, 3);
  assert.ok(stats.dedupRatio > 1);

  const answer = hindsight(['versions', '--json', `${source}/docs/file1.bin`], env).stdout;
  const rebuild = hindsight(['cache', 'rebuild'], env);
  assert.match(rebuild.stdout, /Catalogue rebuilt from 3 snapshots/);
  assert.equal(hindsight(['versions', '--json', `${source}/docs/file1.bin`], env).stdout, answer);

  // Damage: delete one pack; check names it and exits 13.
  const packs = (await readdir(join(dir, 'repo', 'data'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const victim = packs[0];
  assert.ok(victim);
  await unlink(join(victim.parentPath, victim.name));
  const check = hindsight(['check'], env);
  assert.equal(check.status, 13, check.stdout);
  assert.match(check.stdout, /^error: pack [0-9a-f]{16} is in the index but missing from storage/m);
});
