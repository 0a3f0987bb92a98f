import { execFileSync, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatBytes, parseBytes } from '../../src-shared/units.js';

/**
 * `npm run bench [-- --size 256M] [--repeat 3] [--only hindsight] [--keep]`
 *
 * Backs up the same seeded dataset with Hindsight and, when installed, restic
 * and borg (encryption on; zstd 3 for Hindsight and borg, restic's default
 * compression), in one run, and reports each scenario's time, throughput,
 * repository size and peak memory with the Hindsight/peer ratios. Writes
 * bench/results.json and BENCHMARKS.md. Installs nothing itself.
 */
const { values } = parseArgs({ options: { size: { type: 'string', default: '1G' }, only: { type: 'string' }, keep: { type: 'boolean' }, repeat: { type: 'string', default: '1' } } });
const totalSize = parseBytes(values.size as string) ?? 1024 ** 3;
const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin', 'hindsight.js');
const MiB = 1024 * 1024;

/** Deterministic pseudo-random numbers and bytes. */
class Seeded {
  private counter = 0;
  constructor(private readonly seed: string) {}
  bytes(length: number): Buffer {
    const key = createHash('sha256').update(`${this.seed}:${this.counter++}`).digest();
    return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
  }
  next(): number {
    return this.bytes(4).readUInt32LE(0) / 2 ** 32;
  }
}

async function writeText(path: string, size: number, random: Seeded): Promise<void> {
  const words = ['GET', 'POST', '/api/v1/items', '/login', 'user=ann', 'user=bo', 'status=200', 'status=404', 'took', 'ms', 'cache=hit', 'cache=miss'];
  const file = await open(path, 'w');
  let written = 0;
  let line = 0;
  while (written < size) {
    const parts: string[] = [];
    for (let i = 0; i < 4096; i++, line++) {
      const r = random.next();
      parts.push(`2026-11-${String(1 + (line % 28)).padStart(2, '0')} ${String(line % 86400).padStart(5, '0')} ${words[Math.floor(r * words.length)]} ${words[(line * 7) % words.length]} ${Math.floor(r * 1000)} ${words[(line * 3) % words.length]}\n`);
    }
    const chunk = Buffer.from(parts.join('')).subarray(0, size - written);
    await file.write(chunk);
    written += chunk.length;
  }
  await file.close();
}

/** ~60% incompressible files of log-spread sizes (4 KiB–64 MiB), ~30% text, ~10% (≤ 10k) small files in nested folders. */
async function generateDataset(dir: string): Promise<void> {
  const random = new Seeded('hindsight-bench');
  await mkdir(join(dir, 'media'), { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  // Whole-byte targets: a fractional remainder would ask for a 0.2-byte file forever.
  const mediaTarget = Math.floor(totalSize * 0.6);
  const textTarget = Math.floor(totalSize * 0.3);
  let media = 0;
  for (let i = 0; media < mediaTarget; i++) {
    const size = Math.min(Math.round(Math.exp(Math.log(4096) + random.next() * (Math.log(64 * MiB) - Math.log(4096)))), mediaTarget - media);
    const file = await open(join(dir, 'media', `blob-${i}.bin`), 'w');
    for (let done = 0; done < size; done += 8 * MiB) await file.write(random.bytes(Math.min(8 * MiB, size - done)));
    await file.close();
    media += size;
  }
  let text = 0;
  for (let i = 0; text < textTarget; i++) {
    const size = Math.min(Math.round((1 + random.next() * 15) * MiB), textTarget - text);
    await writeText(join(dir, 'logs', `service-${i}.log`), size, random);
    text += size;
  }
  const smallCount = Math.min(10_000, Math.round((totalSize * 0.1) / 4608));
  for (let i = 0; i < smallCount; i++) {
    const folder = join(dir, 'docs', `d${i % 20}`, `e${i % 7}`, `f${i % 3}`);
    if (i < 420) await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `note-${i}.txt`), random.bytes(1024 + Math.floor(random.next() * 7 * 1024)));
  }
}

/** ~2% of the bytes: appends to logs, insertions in the middle of large files (shifting offsets), new and deleted small files. */
async function mutateDataset(dir: string): Promise<void> {
  const random = new Seeded('hindsight-bench-mutation');
  const budget = totalSize * 0.02;
  let changed = 0;
  for (const name of (await readdir(join(dir, 'logs'))).sort()) {
    if (changed > budget * 0.4) break;
    const file = await open(join(dir, 'logs', name), 'a');
    const extra = Math.round(256 * 1024);
    await file.write(random.bytes(extra).toString('base64'));
    await file.close();
    changed += extra;
  }
  const media = await Promise.all((await readdir(join(dir, 'media'))).map(async (name) => ({ name, size: (await stat(join(dir, 'media', name))).size })));
  for (const { name } of media.filter((m) => m.size > 8 * MiB).sort((a, b) => a.name.localeCompare(b.name))) {
    if (changed > budget * 0.9) break;
    const path = join(dir, 'media', name);
    const data = readFileSync(path);
    const insert = random.bytes(512 * 1024);
    await writeFile(path, Buffer.concat([data.subarray(0, data.length >> 1), insert, data.subarray(data.length >> 1)]));
    changed += insert.length;
  }
  for (let i = 0; i < 200; i++) await writeFile(join(dir, 'docs', `new-${i}.txt`), random.bytes(4096));
  for (let i = 0; i < 200; i += 2) await rm(join(dir, 'docs', `d${i % 20}`, `e${i % 7}`, `f${i % 3}`, `note-${i}.txt`), { force: true });
}

interface Measurement {
  seconds: number;
  peakRssMb: number;
}

/** Runs a command under GNU time; returns wall time and peak RSS. */
function measure(command: string, args: string[], env: Record<string, string>, cwd?: string): Measurement {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', command, ...args], { env: { ...process.env, ...env }, cwd, encoding: 'utf8', maxBuffer: 256 * MiB });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr.slice(-2000)}`);
  const [seconds, kb] = (result.stderr.trim().split('\n').pop() ?? '0 0').split(' ').map(Number);
  return { seconds: seconds ?? 0, peakRssMb: (kb ?? 0) / 1024 };
}

/**
 * Runs a step once the disk has written out what earlier steps left dirty, so no tool pays for another's
 * writeback (a restore leaves ~the dataset's size of it), and with what it reads in the page cache: borg
 * drops the files it has read from the cache (POSIX_FADV_DONTNEED), and the tool after it read them from
 * disk (for the first backup, 2.1 s where the same build took 1.6 s after restic or first).
 */
function settled(reads: string, step: () => Measurement): Measurement {
  execFileSync('sync');
  readAll(reads);
  return step();
}

function readAll(folder: string): void {
  execFileSync('sh', ['-c', `find '${folder}' -type f -print0 | xargs -0 cat > /dev/null`]);
}

function duBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

interface Tool {
  name: string;
  version: string;
  init(): void;
  backup(label: string): Measurement;
  restore(target: string): Measurement;
  verify(): Measurement;
  repository: string;
}

function tools(work: string, data: string): Tool[] {
  const password = 'benchmark password';
  const all: Tool[] = [];
  const hs = { HINDSIGHT_REPO: join(work, 'hindsight-repo'), HINDSIGHT_PASSWORD: password, HINDSIGHT_CACHE_DIR: join(work, 'hindsight-cache') };
  all.push({
    name: 'hindsight',
    version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string,
    repository: hs.HINDSIGHT_REPO,
    init: () => void measure(process.execPath, [bin, 'init'], hs),
    backup: () => measure(process.execPath, [bin, 'backup', '--no-default-excludes', data], hs),
    restore: (target) => measure(process.execPath, [bin, 'restore', `latest:${data}`, '--target', target], hs),
    verify: () => measure(process.execPath, [bin, 'check', '--read-data'], hs),
  });
  const which = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
  if (which('restic')) {
    const env = { RESTIC_REPOSITORY: join(work, 'restic-repo'), RESTIC_PASSWORD: password, RESTIC_CACHE_DIR: join(work, 'restic-cache') };
    all.push({
      name: 'restic',
      version: execFileSync('restic', ['version'], { encoding: 'utf8' }).split(' ')[1] ?? '?',
      repository: env.RESTIC_REPOSITORY,
      init: () => void measure('restic', ['init'], env),
      backup: () => measure('restic', ['backup', '--quiet', data], env),
      restore: (target) => measure('restic', ['restore', 'latest', '--target', target], env),
      verify: () => measure('restic', ['check', '--read-data'], env),
    });
  }
  if (which('borg')) {
    const env = { BORG_REPO: join(work, 'borg-repo'), BORG_PASSPHRASE: password, BORG_CACHE_DIR: join(work, 'borg-cache'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' };
    all.push({
      name: 'borg',
      version: execFileSync('borg', ['--version'], { encoding: 'utf8' }).trim().split(' ')[1] ?? '?',
      repository: env.BORG_REPO,
      init: () => void measure('borg', ['init', '--encryption=repokey-blake2'], env),
      backup: (label) => measure('borg', ['create', '--compression', 'zstd,3', `::${label}`, data], env),
      restore: (target) => measure('borg', ['extract', `::run3`], env, target),
      verify: () => measure('borg', ['check', '--verify-data'], env),
    });
  }
  return values.only ? all.filter((t) => t.name === values.only) : all;
}

/** What this machine can do on the same data: read, zstd -3, AES-256-GCM, SHA-256. */
function ceilings(data: string): Record<string, number> {
  const seconds = (script: string) => {
    const started = process.hrtime.bigint();
    execFileSync('sh', ['-c', script], { stdio: 'ignore' });
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  const bytes = duBytes(data);
  const speed = (algorithm: string) => {
    const out = execFileSync('openssl', ['speed', '-elapsed', '-seconds', '1', '-bytes', '16384', '-evp', algorithm], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const line = out.trim().split('\n').pop() ?? '';
    return Number(line.trim().split(/\s+/).pop()?.replace('k', '')) / 1024;
  };
  return {
    readMBps: bytes / MiB / seconds(`find '${data}' -type f -print0 | xargs -0 cat > /dev/null`),
    zstd3MBps: bytes / MiB / seconds(`tar cf - -C '${data}' . | zstd -3 -T1 -q > /dev/null`),
    aes256gcmMBps: speed('aes-256-gcm'),
    sha256MBps: speed('sha256'),
  };
}

const scenarios = ['first backup', 'no-change backup', 'after mutation', 'restore', 'verify all data'] as const;
type Scenario = (typeof scenarios)[number];
type Row = Record<Scenario, Measurement & { repoBytes?: number; mbps: number }>;

/**
 * One repetition: a fresh dataset and fresh repositories. The tools take turns
 * scenario by scenario (first backups, then no-change backups, …), starting
 * with a different tool each repetition, so load from whatever else shares the
 * machine falls on every tool alike and the per-repetition ratios stay fair.
 */
async function runOnce(work: string, rotation: number): Promise<{ dataBytes: number; machine: Record<string, number>; results: Record<string, Row> }> {
  const data = join(work, 'data');
  console.log(`Generating ${formatBytes(totalSize)} of data in ${data}…`);
  await generateDataset(data);
  const dataBytes = duBytes(data);
  const machine = ceilings(data);
  const all = tools(work, data);
  const ordered = [...all.slice(rotation % all.length), ...all.slice(0, rotation % all.length)];
  const results: Record<string, Row> = {};
  for (const tool of all) results[tool.name] = {} as Row;
  const record = (tool: Tool, scenario: Scenario, m: Measurement, repository: boolean) => {
    (results[tool.name] as Row)[scenario] = { ...m, mbps: dataBytes / MiB / Math.max(m.seconds, 0.01), ...(repository ? { repoBytes: duBytes(tool.repository) } : {}) };
  };
  console.log(`Running ${ordered.map((t) => `${t.name} ${t.version}`).join(', ')}…`);
  for (const tool of ordered) tool.init();
  for (const tool of ordered) record(tool, 'first backup', settled(data, () => tool.backup('run1')), true);
  for (const tool of ordered) record(tool, 'no-change backup', settled(data, () => tool.backup('run2')), true);
  // Mutate once, then let each tool back up the same mutated data.
  await mutateDataset(data);
  for (const tool of ordered) record(tool, 'after mutation', settled(data, () => tool.backup('run3')), true);
  // Restored copies are deleted only at the end of the whole run: on a disk mounted with `discard` (this
  // VM's), creating files after a few hundred MB were deleted stalls for seconds, and that fell on
  // whichever tool restored after another's copy was deleted.
  for (const tool of ordered) {
    const target = join(work, `${tool.name}-restore`);
    await mkdir(target, { recursive: true });
    record(tool, 'restore', settled(tool.repository, () => tool.restore(target)), false);
  }
  for (const tool of ordered) record(tool, 'verify all data', settled(tool.repository, () => tool.verify()), false);
  return { dataBytes, machine, results };
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const repeat = Math.max(1, Number(values.repeat));
const runs: Awaited<ReturnType<typeof runOnce>>[] = [];
const kept: string[] = [];
// Nothing is deleted until every repetition is done (see the restores in runOnce): a repetition run
// after a few GB were deleted restored 2-3x slower, with every tool.
for (let r = 0; r < repeat; r++) {
  if (repeat > 1) console.log(`Repetition ${r + 1} of ${repeat}`);
  const work = await mkdtemp(join(tmpdir(), 'hindsight-bench-'));
  runs.push(await runOnce(work, r));
  kept.push(work);
}

const first = runs[0] as Awaited<ReturnType<typeof runOnce>>;
const dataBytes = first.dataBytes;
const names = Object.keys(first.results);
const peers = names.filter((name) => name !== 'hindsight');
const cell = (name: string, scenario: Scenario) => runs.map((run) => run.results[name]?.[scenario] as Row[Scenario]);
const machine = Object.fromEntries(Object.keys(first.machine).map((key) => [key, median(runs.map((run) => run.machine[key] ?? NaN))]));
const summary: Record<string, Record<Scenario, { seconds: number; mbps: number; repoBytes?: number; peakRssMb: number; runs: number[]; ratios: Record<string, number> }>> = {};
for (const name of names) {
  summary[name] = {} as (typeof summary)[string];
  for (const scenario of scenarios) {
    const ms = cell(name, scenario);
    const seconds = median(ms.map((m) => m.seconds));
    // Ratios are taken within each repetition (same data, same moment), then the median of those.
    const ratios = Object.fromEntries(
      name === 'hindsight' ? peers.map((peer) => [peer, median(ms.map((m, i) => m.seconds / (cell(peer, scenario)[i]?.seconds ?? NaN)))]) : [],
    );
    const repoBytes = ms[0]?.repoBytes;
    (summary[name] as (typeof summary)[string])[scenario] = {
      seconds,
      mbps: dataBytes / MiB / Math.max(seconds, 0.01),
      ...(repoBytes !== undefined ? { repoBytes } : {}),
      peakRssMb: Math.max(...ms.map((m) => m.peakRssMb)),
      runs: ms.map((m) => m.seconds),
      ratios,
    };
  }
}

const lines: string[] = [];
const timeHeader = repeat > 1 ? `median time (s) | runs (s)` : 'time (s)';
lines.push(`| scenario | tool | ${timeHeader} | MB/s | repository | peak RSS (MB) | ${peers.map((p) => `time vs ${p}`).join(' | ')} |`);
lines.push(`| --- | --- | ---: | ${repeat > 1 ? '---: | ' : ''}---: | ---: | ---: | ${peers.map(() => '---:').join(' | ')} |`);
for (const scenario of scenarios) {
  for (const name of names) {
    const m = (summary[name] as (typeof summary)[string])[scenario];
    const times = repeat > 1 ? `${m.seconds.toFixed(2)} | ${m.runs.map((s) => s.toFixed(2)).join(' ')}` : m.seconds.toFixed(2);
    const ratios = peers.map((peer) => (name === 'hindsight' ? `${(m.ratios[peer] ?? NaN).toFixed(2)}×` : ''));
    lines.push(`| ${scenario} | ${name} | ${times} | ${m.mbps.toFixed(0)} | ${m.repoBytes !== undefined ? formatBytes(m.repoBytes) : ''} | ${m.peakRssMb.toFixed(0)} | ${ratios.join(' | ')} |`);
  }
}
const table = lines.join('\n');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const description = `${cpu}, ${cpus().length} cores, ${formatBytes(totalmem())} RAM (${formatBytes(freemem())} free), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
const ceilingsLine = `Ceilings on this data: read ${machine.readMBps?.toFixed(0)} MB/s, zstd -3 (one thread) ${machine.zstd3MBps?.toFixed(0)} MB/s, AES-256-GCM ${machine.aes256gcmMBps?.toFixed(0)} MB/s, SHA-256 ${machine.sha256MBps?.toFixed(0)} MB/s (openssl speed, 16 KiB blocks).`;
const repeatNote =
  repeat > 1
    ? ` Repeated ${repeat} times, each with fresh data and repositories, the tools interleaved scenario by scenario; times are medians, ratios the median of the per-repetition ratios, peak RSS the largest seen.`
    : '';
const command = `npm run bench -- --size ${values.size}${repeat > 1 ? ` --repeat ${repeat}` : ''}`;
console.log(`\n${description}\nDataset: ${formatBytes(dataBytes)}\n${ceilingsLine}\n\n${table}\n\nTime ratios below 1 mean Hindsight was faster.`);
await mkdir(join(root, 'bench'), { recursive: true });
await writeFile(join(root, 'bench', 'results.json'), JSON.stringify({ machine: description, datasetBytes: dataBytes, repeat, ceilings: machine, summary, runs: runs.map((run) => run.results) }, null, 2));
if (!values.only) {
  await writeFile(
    join(root, 'BENCHMARKS.md'),
    `# Benchmarks\n\nLast full run of \`${command}\` on ${description}.\n\nDataset: ${formatBytes(dataBytes)} (seeded: ~60% incompressible files of 4 KiB–64 MiB, ~30% log text, up to 10k small files; then ~2% mutated). Before each step, dirty pages are written out (\`sync\`) and what the step reads (the data, or the tool's repository) is read into the page cache: borg drops the files it reads from the cache; every tool encrypts; Hindsight and borg use zstd 3, restic its default compression.${repeatNote}\n\n${ceilingsLine}\n\n${table}\n\nTime ratios below 1 mean Hindsight was faster. MB/s is source data per second.\n`,
  );
}
for (const work of kept) {
  if (values.keep) console.log(`Kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
