import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MiB = 1024 * 1024;

export interface Measurement {
  seconds: number;
  /** User plus system CPU time of the process and its children: with `seconds`, how many cores were busy. */
  cpuSeconds: number;
  peakRssMb: number;
}

export interface Command {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Exit statuses that still mean success (borg exits 1 for warnings such as an unreadable file). */
  okStatuses?: number[];
}

/** Parses GNU time's `%e %U %S %M` line: wall, user and system seconds, peak RSS in KiB. */
export function parseTimeLine(line: string): Measurement {
  const [wall, user, system, kb] = line.trim().split(/\s+/).map(Number);
  if ([wall, user, system, kb].some((n) => n === undefined || !Number.isFinite(n))) throw new Error(`unexpected GNU time output: ${line}`);
  return { seconds: wall as number, cpuSeconds: (user as number) + (system as number), peakRssMb: (kb as number) / 1024 };
}

/** Runs a command under GNU time, which writes to its own file so a tool's stderr cannot get in the way. */
export function measure({ command, args, env, cwd, okStatuses = [0] }: Command): Measurement {
  const folder = mkdtempSync(join(tmpdir(), 'hindsight-bench-time-'));
  const output = join(folder, 'time');
  try {
    const result = spawnSync('/usr/bin/time', ['-o', output, '-f', '%e %U %S %M', command, ...args], { env: { ...process.env, ...env }, cwd, encoding: 'utf8', maxBuffer: 256 * MiB });
    if (!okStatuses.includes(result.status ?? -1)) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr.slice(-2000)}`);
    if (result.status !== 0) console.log(`  (${command} exited ${result.status}: ${result.stderr.trim().split('\n').slice(-3).join(' / ')})`);
    // GNU time prefixes "Command exited with non-zero status N" when it is not 0: the figures are the last line.
    return parseTimeLine(readFileSync(output, 'utf8').trim().split('\n').pop() ?? '');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * Runs a step once the disk has written out what earlier steps left dirty, so no tool pays for another's
 * writeback (a restore leaves ~the dataset's size of it), and with what it reads in the page cache: borg
 * drops the files it has read from the cache (POSIX_FADV_DONTNEED), and the tool after it read them from
 * disk (for the first backup, 2.1 s where the same build took 1.6 s after restic or first).
 */
export function settled(reads: string, step: () => Measurement): Measurement {
  execFileSync('sync');
  readAll(reads);
  return step();
}

export function readAll(folder: string): void {
  execFileSync('sh', ['-c', 'find "$1" -type f -print0 | xargs -0 cat > /dev/null', 'sh', folder]);
}

export function duBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}
