import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentEvent, JobRecord } from '../../src-shared/api.js';
import { AgentClient } from '../../src-main/agent/transport/agentClient.js';
import { AGENT_PROCESS_ENV } from '../../src-main/agent/agentProcessEnv.js';
import { ENGINE_EXEC_ARGV } from '../../src-main/agent/v8Flags.js';
import { bin, childEnv } from '../helpers/agentProcess.js';

/**
 * `npm run bench:agent [-- --source PATH] [--files 80000] [--settle 60] [--limit 100]`
 *
 * The agent's resident memory as the system sees it: starts `hindsight agent`
 * as its own process, gives it a repository and a continuous plan watching
 * SOURCE (default: a generated tree of FILES small files in folders of 16)
 * and a scratch folder for edits (SOURCE is never changed), and reads VmRSS from /proc/PID/status (the whole process, every thread)
 * when idle, during and after the first backup, SETTLE seconds later, and
 * the same around a backup of a few edited files. Exits with 1 when the
 * agent holds more than LIMIT MB once a backup has settled, so it is the
 * check of issue 18's target. NODE_OPTIONS passes through to the agent
 * (e.g. --heapsnapshot-signal=SIGUSR2, --trace-gc) to look inside.
 */
const { values } = parseArgs({
  options: {
    source: { type: 'string' },
    files: { type: 'string', default: '80000' },
    settle: { type: 'string', default: '60' },
    limit: { type: 'string', default: '100' },
    keep: { type: 'boolean' },
  },
});
const settleMs = Number(values.settle) * 1000;
const limitMB = Number(values.limit);
const MB = 1024 * 1024;

const dir = await mkdtemp(join(tmpdir(), 'hindsight-agent-mem-'));
const source = values.source ?? join(dir, 'source');
if (values.source === undefined) await generateTree(source, Number(values.files));
const dataDir = join(dir, 'data');
// With the flags and the environment the desktop app starts its agent with.
const child = spawn(process.execPath, [...ENGINE_EXEC_ARGV, bin, 'agent'], {
  env: childEnv({ ...AGENT_PROCESS_ENV, HINDSIGHT_DATA_DIR: dataDir, HINDSIGHT_CACHE_DIR: join(dir, 'cache') }),
  stdio: ['ignore', 'pipe', 'inherit'],
});
const pid = child.pid as number;
let exitCode = 1;
try {
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('Hindsight agent running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the agent exited (${code}) before it was ready:\n${output}`)));
  });
  const client = await AgentClient.connect(join(dataDir, 'agent.sock'));
  const finished: JobRecord[] = [];
  client.onEvent((event: AgentEvent) => {
    if (event.type === 'job.finished') finished.push(event.job);
  });
  const rows: [string, Sample][] = [];
  const note = (label: string, sample = status(pid)) => {
    rows.push([label, sample]);
    console.error(`${label}: ${mb(sample.rss)} MB`);
  };

  await pause(3000);
  note('started, no plan');
  const repo = join(dir, 'repo');
  await client.call('repositories.create', { location: repo, password: 'bench', remember: false });
  // Paused while the plan is created, so the watcher's own cost shows before any backup.
  await client.call('agent.pause', {});
  const scratch = join(dir, 'edits');
  await mkdir(scratch);
  const plan = await client.call('plans.create', { name: 'bench', sources: [source, scratch], targets: [repo], schedule: { kind: 'continuous', debounceSeconds: 2, maxWaitSeconds: 10 } });
  await pause(5000);
  note('watching, before any backup');

  const backupAndSettle = async (what: string, start: () => Promise<unknown>) => {
    const before = finished.length;
    let peak = status(pid);
    const timer = setInterval(() => {
      const now = status(pid);
      if (now.rss > peak.rss) peak = now;
    }, 250);
    await start();
    const job = await until(() => finished.slice(before).find((j) => j.planId === plan.id));
    clearInterval(timer);
    if (job.result !== 'succeeded') throw new Error(`the ${what} ${job.result}: ${job.message}`);
    note(`${what}: peak (every 0.25 s)`, peak);
    note(`${what}: just after`);
    const settled = Date.now() + settleMs;
    while (Date.now() < settled) {
      await pause(Math.min(5000, settled - Date.now()));
      console.error(`  +${Math.round((settleMs - (settled - Date.now())) / 1000)} s: ${mb(status(pid).rss)} MB`);
    }
    note(`${what}: ${settleMs / 1000} s after`);
    return rows[rows.length - 1]?.[1].rss ?? 0;
  };
  const afterFirst = await backupAndSettle('first backup', () => client.call('agent.resume', {}));
  const edited = await editSome(scratch);
  const afterChange = await backupAndSettle(`backup of ${edited} edited files`, async () => undefined);
  const end = status(pid);
  rows.push(['peak of the whole run (VmHWM)', { ...end, rss: end.hwm, anon: Number.NaN, file: Number.NaN }]);
  client.close();

  console.log(`\nAgent memory, continuous plan on ${source}`);
  console.log(`${'when'.padEnd(52)} ${'VmRSS MB'.padStart(9)} ${'anon MB'.padStart(8)} ${'file MB'.padStart(8)} ${'threads'.padStart(8)}`);
  for (const [label, s] of rows) console.log(`${label.padEnd(52)} ${mb(s.rss).padStart(9)} ${mb(s.anon).padStart(8)} ${mb(s.file).padStart(8)} ${String(s.threads).padStart(8)}`);
  const worst = Math.max(afterFirst, afterChange);
  exitCode = worst > limitMB * MB ? 1 : 0;
  console.log(`\n${exitCode === 0 ? 'ok' : 'FAIL'}: ${mb(worst)} MB resident ${settleMs / 1000} s after a backup (limit ${limitMB} MB)`);
} finally {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.exitCode === null) child.kill('SIGTERM');
  await exited;
  if (!values.keep) await rm(dir, { recursive: true, force: true });
}
process.exitCode = exitCode;

interface Sample {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
  threads: number;
}

/** The process's memory from /proc/PID/status, in bytes. */
function status(pid: number): Sample {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rss: field('VmRSS') * 1024, hwm: field('VmHWM') * 1024, anon: field('RssAnon') * 1024, file: field('RssFile') * 1024, threads: field('Threads') };
}

function mb(bytes: number): string {
  return Number.isNaN(bytes) ? '-' : (bytes / MB).toFixed(1);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until<T>(found: () => T | undefined): Promise<T> {
  for (;;) {
    const value = found();
    if (value !== undefined) return value;
    await pause(100);
  }
}

/** FILES small files of a few hundred bytes to a few KiB, 16 to a folder, folders 16 to a parent: a source tree's shape. */
async function generateTree(root: string, files: number): Promise<void> {
  for (let i = 0; i < files; i++) {
    const folder = join(root, `d${Math.floor(i / 256)}`, `d${Math.floor(i / 16) % 16}`);
    if (i % 16 === 0) await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `f${i}.c`), `/* file ${i} */\n`.repeat(20 + (i % 200)));
  }
}

/** Writes ten files into the plan's second source, so a real tree given with --source is never changed. */
async function editSome(folder: string): Promise<number> {
  for (let i = 0; i < 10; i++) await writeFile(join(folder, `edited-${i}.txt`), `edited ${Date.now()}\n`);
  return 10;
}
