import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { cpus, freemem, homedir, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBytes } from '../../src-shared/units.js';
import { resolveDatasets, type Dataset } from './datasets.js';
import { duBytes, settled, type Measurement } from './measure.js';
import { applySmallChange, planSmallChange } from './mutations.js';
import { parseOptions, usage, UsageError, type BenchOptions } from './options.js';
import { formatBenchmarks, formatCeilings, formatShape, formatTable, formatTargets, judgeTargets, median, summarize, type DatasetReport, type RunResults, type Scenario } from './report.js';
import { makeTools, type Tool } from './tools.js';
import { listTree, type TreeListing } from './tree.js';

/**
 * `npm run bench -- [--dataset synthetic|linux|gcc|PATH]… [--size 1G] [--repeat 3] [--only TOOL] [--baseline DIR] [--keep]`
 * (`--help` for all). Backs up each dataset with Hindsight and, when installed, restic and borg, in one
 * run, and reports each scenario's time, CPU, throughput, repository size and peak memory with the
 * Hindsight/peer ratios and the issue's targets. Writes bench/results.json and BENCHMARKS.md. Installs
 * nothing itself; fetches the real trees with apt-get download.
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const MiB = 1024 * 1024;
/**
 * Disk a repetition holds until the run ends, in copies of its data: the copy, then per tool a restore and
 * a repository (measured with three tools: 55 GB for linux, gcc and 1 GiB synthetic, 3 each, so about 5 copies).
 */
const diskCopiesPerRepetition = (tools: number) => 1 + (4 / 3) * tools;

function readOptions(): BenchOptions {
  try {
    const options = parseOptions(process.argv.slice(2), homedir());
    if (options.help) {
      console.log(usage);
      process.exit(0);
    }
    return options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message} (see --help)`);
    process.exit(2);
  }
}

/** What this machine can do on the same data: read, zstd -3, AES-256-GCM, SHA-256. */
function ceilings(data: string, bytes: number): Record<string, number> {
  const seconds = (script: string) => {
    const started = process.hrtime.bigint();
    execFileSync('sh', ['-c', script, 'sh', data], { stdio: 'ignore' });
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  const speed = (algorithm: string) => {
    const out = execFileSync('openssl', ['speed', '-elapsed', '-seconds', '1', '-bytes', '16384', '-evp', algorithm], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const line = out.trim().split('\n').pop() ?? '';
    return Number(line.trim().split(/\s+/).pop()?.replace('k', '')) / 1024;
  };
  return {
    readMBps: bytes / MiB / seconds('find "$1" -type f -print0 | xargs -0 cat > /dev/null'),
    zstd3MBps: bytes / MiB / seconds('tar cf - -C "$1" . | zstd -3 -T1 -q > /dev/null'),
    aes256gcmMBps: speed('aes-256-gcm'),
    sha256MBps: speed('sha256'),
  };
}

interface Repetition {
  listing: Omit<TreeListing, 'files' | 'folders'> & { files: number; folders: number };
  ceilings: Record<string, number>;
  results: RunResults;
  versions: string[];
}

/**
 * One repetition: a fresh copy of the data and fresh repositories. The tools take turns scenario by
 * scenario (first backups, then no-change backups, …), starting with a different tool each repetition,
 * so load from whatever else shares the machine falls on every tool alike and the per-repetition ratios
 * stay fair. Each change is made once, then backed up by every tool.
 */
async function runOnce(dataset: Dataset, work: string, rotation: number, options: BenchOptions): Promise<Repetition> {
  const data = join(work, 'data');
  await dataset.materialize(data);
  const listing = await listTree(data);
  console.log(`  ${formatShape({ ...listing, files: listing.files.length, folders: listing.folders.length })}`);
  const machine = ceilings(data, listing.bytes);
  const all = makeTools(root, work, data, options.only, options.baseline);
  const ordered = [...all.slice(rotation % all.length), ...all.slice(0, rotation % all.length)];
  const results: RunResults = Object.fromEntries(all.map((tool) => [tool.name, {}]));
  const step = (scenario: Scenario, tool: Tool, reads: string, run: () => Measurement, repository: boolean) => {
    const m = settled(reads, run);
    (results[tool.name] as RunResults[string])[scenario] = { ...m, ...(repository ? { repoBytes: duBytes(tool.repository) } : {}) };
    console.log(`  ${scenario.padEnd(17)} ${tool.name.padEnd(10)} ${m.seconds.toFixed(2).padStart(7)} s  ${m.cpuSeconds.toFixed(2).padStart(7)} CPU s  ${m.peakRssMb.toFixed(0).padStart(5)} MB`);
  };
  const backups = (scenario: Scenario, label: string) => {
    for (const tool of ordered) step(scenario, tool, data, () => tool.backup(label), true);
  };
  console.log(`Running ${ordered.map((t) => `${t.name} ${t.version}`).join(', ')}…`);
  for (const tool of ordered) tool.init();
  backups('first backup', 'first');
  backups('no-change backup', 'no-change');
  const small = planSmallChange(listing);
  console.log(`Small change: ${small.touch.length} files touched, ${small.edit.length} edited in place, ${small.add.length} added, ${small.delete.length} deleted`);
  await applySmallChange(data, small);
  backups('small change', 'small-change');
  console.log(`After mutation: ${dataset.mutation}`);
  await dataset.mutate(data);
  backups('after mutation', 'mutation');
  // Restored copies are deleted only at the end of the whole run: on a disk mounted with `discard` (this
  // VM's), creating files after a few hundred MB were deleted stalls for seconds, and that fell on
  // whichever tool restored after another's copy was deleted.
  for (const tool of ordered) {
    const target = join(work, `${tool.name}-restore`);
    await mkdir(target, { recursive: true });
    step('restore', tool, tool.repository, () => tool.restore(target), false);
  }
  for (const tool of ordered) step('verify all data', tool, tool.repository, () => tool.verify(), false);
  const { files, folders, ...rest } = listing;
  return { listing: { ...rest, files: files.length, folders: folders.length }, ceilings: machine, results, versions: all.map((t) => `${t.name} ${t.version}`) };
}

/** Every repetition of one dataset, then its report. */
async function runDataset(dataset: Dataset, options: BenchOptions, kept: string[]): Promise<{ report: DatasetReport; repetitions: Repetition[] }> {
  const repetitions: Repetition[] = [];
  for (let r = 0; r < options.repeat; r++) {
    console.log(`\nDataset ${dataset.name}${options.repeat > 1 ? `, repetition ${r + 1} of ${options.repeat}` : ''}`);
    const work = await mkdtemp(join(tmpdir(), `hindsight-bench-${dataset.name}-`));
    kept.push(work);
    repetitions.push(await runOnce(dataset, work, r, options));
  }
  const first = repetitions[0] as Repetition;
  const summary = summarize(repetitions.map((r) => r.results), first.listing.bytes);
  const ceilingsMedian = Object.fromEntries(Object.keys(first.ceilings).map((key) => [key, median(repetitions.map((r) => r.ceilings[key] ?? NaN))]));
  const report: DatasetReport = { name: dataset.name, description: dataset.description, mutation: dataset.mutation, ...first.listing, ceilings: ceilingsMedian, tools: first.versions, summary, targets: judgeTargets(summary) };
  return { report, repetitions };
}

function commandLine(options: BenchOptions): string {
  const datasets = options.datasets.map((d) => ` --dataset ${d}`).join('');
  const size = options.datasets.includes('synthetic') ? ` --size ${options.sizeText}` : '';
  return `npm run bench --${datasets}${size}${options.repeat > 1 ? ` --repeat ${options.repeat}` : ''}${options.only ? ` --only ${options.only}` : ''}${options.baseline ? ' --baseline DIR' : ''}`;
}

const options = readOptions();
if (options.baseline !== undefined && !existsSync(join(options.baseline, 'build', 'bundle', 'cli', 'main.js'))) {
  console.error(`bench: --baseline ${options.baseline}: no built Hindsight there (run npm run build in it first)`);
  process.exit(2);
}
let datasets: Dataset[];
try {
  datasets = resolveDatasets(options.datasets, options.datasetsDir, options.size);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`bench: ${error.message}`);
  process.exit(2);
}
// Every repetition keeps its copy and each tool's restore and repository until the end (see below): about
// five copies' worth each with three tools. A run that fills the disk half-way (session 11: the third synthetic repetition)
// loses everything it measured, so it does not start.
const toolCount = makeTools(root, tmpdir(), tmpdir(), options.only, options.baseline).length;
const needed = datasets.reduce((sum, dataset) => sum + options.repeat * diskCopiesPerRepetition(toolCount) * dataset.diskBytes(), 0);
const { bavail, bsize } = await statfs(tmpdir());
if (bavail * bsize < needed) {
  console.error(`bench: ${formatBytes(bavail * bsize)} free in ${tmpdir()}, and this run needs about ${formatBytes(needed)} (nothing is deleted until it ends); free some space, set TMPDIR elsewhere, or use fewer datasets or repetitions.`);
  process.exit(2);
}
const kept: string[] = [];
const reports: DatasetReport[] = [];
const rawRuns: Record<string, Repetition[]> = {};
// Nothing is deleted until every dataset and repetition is done (see the restores in runOnce): a
// repetition run after a few GB were deleted restored 2-3x slower, with every tool.
for (const dataset of datasets) {
  const { report, repetitions } = await runDataset(dataset, options, kept);
  reports.push(report);
  rawRuns[dataset.name] = repetitions;
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const machine = `${cpu}, ${cpus().length} cores, ${formatBytes(totalmem())} RAM (${formatBytes(freemem())} free), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
const command = commandLine(options);
console.log(`\n${machine}`);
for (const report of reports) {
  console.log(`\n${report.name}: ${formatShape(report)}\n${formatCeilings(report.ceilings)}\n\n${formatTable(report.summary, options.repeat)}`);
}
console.log(`\nTime ratios below 1 mean Hindsight was faster.\n\nTargets (issue 18):\n${formatTargets(reports)}`);
await mkdir(join(root, 'bench'), { recursive: true });
await writeFile(
  join(root, 'bench', 'results.json'),
  JSON.stringify({ machine, command, repeat: options.repeat, datasets: reports.map((report) => ({ ...report, runs: rawRuns[report.name] })) }, null, 2),
);
if (!options.only) await writeFile(join(root, 'BENCHMARKS.md'), formatBenchmarks(reports, machine, command, options.repeat));
for (const work of kept) {
  if (options.keep) console.log(`Kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
