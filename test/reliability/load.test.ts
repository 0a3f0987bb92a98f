import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { backup } from '../../src-main/engine/archiver/backup.js';
import { Catalogue } from '../../src-main/engine/catalogue/catalogue.js';
import { listSnapshots } from '../../src-main/engine/snapshot/snapshot.js';
import { bin, childEnv } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';
import { createTestRepository } from '../helpers/testRepository.js';

/** Small files backed up and restored: 20,000 in `npm test`, 1,000,000 in `npm run test:stress`. */
const FILES = Number(process.env.HINDSIGHT_LOAD_FILES ?? 20_000);
/** Snapshots for the catalogue queries: 20 in `npm test`, 100 in `npm run test:stress`, of a tree of CATALOGUE_FILES files. */
const SNAPSHOTS = Number(process.env.HINDSIGHT_LOAD_SNAPSHOTS ?? 20);
const CATALOGUE_FILES = Number(process.env.HINDSIGHT_LOAD_CATALOGUE_FILES ?? 2_000);
const PER_FOLDER = 1000;
const MEMORY_LIMIT_MIB = 500;
const preload = pathToFileURL(new URL('../fixtures/reportPeakMemory.js', import.meta.url).pathname).href;

/** File i of the generated tree: small, distinct, cheap to regenerate for the comparison. */
function smallFile(i: number): Buffer {
  return Buffer.from(`file ${i} `.repeat(1 + ((i * 7919) % 150)));
}

const folderOf = (i: number) => `d${Math.floor(i / PER_FOLDER)}`;

/** The file's text, or '' once the process it describes has gone. */
function readFileSafely(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Runs a Hindsight command and returns its exit status, output, seconds taken and peak memory in MiB. */
function hindsight(args: string[], env: Record<string, string>): Promise<{ status: number | null; stderr: string; seconds: number; peakMiB: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], { env: childEnv({ ...env, NODE_OPTIONS: `--import=${preload}` }), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Sampled from outside too: the child's own timers stall while its main thread is busy (a long SQLite
  // transaction), and the kernel's high-water mark misses memory V8 returns with madvise.
  let sampledKib = 0;
  const sampler = setInterval(() => {
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSafely(`/proc/${child.pid}/status`))?.[1];
    sampledKib = Math.max(sampledKib, Number(rss ?? 0));
  }, 20);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearInterval(sampler);
      const kib = Math.max(sampledKib, Number(/peak-rss-kib (\d+)/.exec(stderr)?.[1] ?? NaN));
      resolve({ status, stderr, seconds: (Date.now() - started) / 1000, peakMiB: Math.round(kib / 1024) });
    }),
  );
}

test(`${FILES} small files are backed up and restored exactly, each command under ${MEMORY_LIMIT_MIB} MiB of memory`, { timeout: Math.max(600_000, FILES * 5) }, async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  let generating = Date.now();
  for (let i = 0; i < FILES; i++) {
    if (i % PER_FOLDER === 0) mkdirSync(join(source, folderOf(i)), { recursive: true });
    writeFileSync(join(source, folderOf(i), `f${i}.txt`), smallFile(i));
  }
  generating = (Date.now() - generating) / 1000;
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  assert.equal((await hindsight(['init'], env)).status, 0);

  const backedUp = await hindsight(['backup', source], env);
  assert.equal(backedUp.status, 0, backedUp.stderr);
  const target = join(dir, 'restored');
  const restored = await hindsight(['restore', `latest:${source}`, '--target', target], env);
  assert.equal(restored.status, 0, restored.stderr);

  let comparing = Date.now();
  const folders = Math.ceil(FILES / PER_FOLDER);
  assert.equal(readdirSync(target).length, folders);
  for (let f = 0; f < folders; f++) {
    const count = Math.min(PER_FOLDER, FILES - f * PER_FOLDER);
    assert.equal(readdirSync(join(target, `d${f}`)).length, count, `folder d${f}`);
    for (let i = f * PER_FOLDER; i < f * PER_FOLDER + count; i++) {
      assert.ok(readFileSync(join(target, folderOf(i), `f${i}.txt`)).equals(smallFile(i)), `file ${i}`);
    }
  }
  comparing = (Date.now() - comparing) / 1000;
  t.diagnostic(
    `load figures: ${JSON.stringify({ files: FILES, generateSeconds: generating, backupSeconds: backedUp.seconds, backupPeakMiB: backedUp.peakMiB, restoreSeconds: restored.seconds, restorePeakMiB: restored.peakMiB, compareSeconds: comparing })}`,
  );
  assert.ok(backedUp.peakMiB < MEMORY_LIMIT_MIB, `backup peaked at ${backedUp.peakMiB} MiB`);
  assert.ok(restored.peakMiB < MEMORY_LIMIT_MIB, `restore peaked at ${restored.peakMiB} MiB`);
});

test(`catalogue queries over ${SNAPSHOTS} snapshots of ${CATALOGUE_FILES} files answer right (times printed, not asserted)`, { timeout: Math.max(600_000, SNAPSHOTS * 10_000) }, async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source');
  const { repository } = await createTestRepository(t);
  // Every snapshot rewrites one file in ten of folder d0 (d0/f0.txt in each), the rest never change.
  for (let i = 0; i < CATALOGUE_FILES; i++) {
    if (i % PER_FOLDER === 0) mkdirSync(join(source, folderOf(i)), { recursive: true });
    writeFileSync(join(source, folderOf(i), `f${i}.txt`), smallFile(i));
  }
  let building = Date.now();
  for (let s = 0; s < SNAPSHOTS; s++) {
    for (let i = 0; i < Math.min(PER_FOLDER, CATALOGUE_FILES); i += 10) await writeFile(join(source, 'd0', `f${i}.txt`), `${s} ${i}`);
    await backup(repository, { paths: [source], cacheDir: join(dir, 'cache') });
  }
  building = (Date.now() - building) / 1000;
  const catalogue = new Catalogue(join(dir, 'catalogue'));
  t.after(() => catalogue.close());
  const timings: Record<string, number> = {};
  const timed = async <T>(label: string, run: () => T | Promise<T>): Promise<T> => {
    const start = process.hrtime.bigint();
    const result = await run();
    timings[label] = Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100;
    return result;
  };
  await timed('sync from scratch', () => catalogue.sync(repository));
  await timed('sync, nothing new (before every query)', () => catalogue.sync(repository));
  const snapshots = await timed('snapshots list', () => listSnapshots(repository));
  assert.equal(snapshots.length, SNAPSHOTS);
  const changing = await timed('versions of a file changed every time', () => catalogue.versions(join(source, 'd0', 'f0.txt')));
  assert.equal(changing.length, SNAPSHOTS);
  const still = await timed('versions of an unchanged file', () => catalogue.versions(join(source, folderOf(CATALOGUE_FILES - 1), `f${CATALOGUE_FILES - 1}.txt`)));
  assert.equal(still.length, 1);
  assert.equal(still[0]?.snapshots.length, SNAPSHOTS);
  const found = await timed('find "f1?.txt"', () => catalogue.find('f1?.txt'));
  assert.deepEqual(found.map((m) => m.path.split('/').pop()).sort(), ['f10.txt', 'f11.txt', 'f12.txt', 'f13.txt', 'f14.txt', 'f15.txt', 'f16.txt', 'f17.txt', 'f18.txt', 'f19.txt']);
  const first = snapshots[0]?.id as string;
  const last = snapshots[SNAPSHOTS - 1]?.id as string;
  const changed = Math.ceil(Math.min(PER_FOLDER, CATALOGUE_FILES) / 10);
  assert.equal((await timed('diff first → last', () => catalogue.diff(first, last))).length, changed);
  assert.equal((await timed('diff of neighbours', () => catalogue.diff(snapshots[SNAPSHOTS - 2]?.id as string, last))).length, changed);
  t.diagnostic(`catalogue figures (ms): ${JSON.stringify({ snapshots: SNAPSHOTS, files: CATALOGUE_FILES, buildSeconds: building, ...timings })}`);
});
