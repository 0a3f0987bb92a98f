import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin, childEnv } from '../helpers/agentProcess.js';
import { seededBytes } from '../helpers/data.js';
import { assertSameTree, describeTree } from '../helpers/fileTree.js';
import { tempDir } from '../helpers/tempDir.js';

/** A command that has not finished after this long is stuck: it is killed and the test names it (seen once on CI, not reproduced since). */
const STUCK_MS = 180_000;

function start(args: string[], env: Record<string, string>): Promise<{ status: number | null; output: string }> {
  const child = spawn(process.execPath, [bin, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => {
    output += `\n[stuck: ${args.join(' ')} did not finish in ${STUCK_MS / 1000} s]`;
    child.kill('SIGKILL');
  }, STUCK_MS);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    }),
  );
}

test('two hosts back up into one repository at the same time while a third process checks it; nothing is lost', async (t) => {
  const dir = await tempDir(t);
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal(spawnSync(process.execPath, [bin, 'init', '--pack-size', '1MiB'], { env: childEnv(env), timeout: STUCK_MS }).status, 0);
  const sources = ['laptop', 'desktop'].map((host) => join(dir, host));
  for (const [i, source] of sources.entries()) {
    await mkdir(join(source, 'shared'), { recursive: true });
    // Both hosts hold some identical data, so their backups race to store the same chunks.
    await writeFile(join(source, 'shared', 'common.bin'), seededBytes('common', 6 * 1024 * 1024));
    for (let f = 0; f < 40; f++) await writeFile(join(source, `own-${f}.bin`), seededBytes(`host${i}-${f}`, 100_000 + f));
  }
  const [laptop, desktop, check] = await Promise.all([
    start(['backup', '--host', 'laptop', sources[0] as string], env),
    start(['backup', '--host', 'desktop', sources[1] as string], env),
    start(['check', '--read-data'], env),
  ]);
  assert.equal(laptop.status, 0, `laptop: ${laptop.output}`);
  assert.equal(desktop.status, 0, `desktop: ${desktop.output}`);
  assert.equal(check.status, 0, `check: ${check.output}`);
  const after = spawnSync(process.execPath, [bin, 'check', '--read-data'], { env: childEnv(env), encoding: 'utf8', timeout: STUCK_MS });
  assert.equal(after.status, 0, after.stdout);
  const snapshots = JSON.parse(spawnSync(process.execPath, [bin, 'snapshots', '--json'], { env: childEnv(env), encoding: 'utf8', timeout: STUCK_MS }).stdout) as { id: string; host: string }[];
  assert.deepEqual(snapshots.map((s) => s.host).sort(), ['desktop', 'laptop']);
  for (const source of sources) {
    const host = source.split('/').pop() as string;
    const id = snapshots.find((s) => s.host === host)?.id as string;
    const target = join(dir, `restored-${host}`);
    const restored = spawnSync(process.execPath, [bin, 'restore', `${id}:${source}`, '--target', target], { env: childEnv(env), encoding: 'utf8', timeout: STUCK_MS });
    assert.equal(restored.status, 0, restored.stderr);
    assertSameTree(await describeTree(target), await describeTree(source));
  }
});
