import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { HINDSIGHT_BIN, cleanEnv } from './hindsightServer.js';
import { seededBytes } from './data.js';
import { RCLONE, obscured } from './restServer.js';

export interface MountProcess {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly process: ChildProcess;
  /** Resolves with its exit status once it has exited (however it ended). */
  readonly exited: Promise<number | null>;
  /** Everything it wrote to standard output and standard error so far. */
  output(): string;
  log(): string;
  /** Resolves once its log matches `pattern`; fails after `ms`. */
  waitForLog(pattern: RegExp, ms?: number): Promise<void>;
  /** Sends `signal` (SIGKILL by default) and resolves with its exit status once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `hindsight mount` as its own process, with `args` after "mount" and the repository's password in
 * HINDSIGHT_PASSWORD; resolves once it printed its address and credentials (and, with a mount point,
 * "Mounted at"). Killed when the test ends.
 */
export async function startMount(t: TestContext, args: readonly string[], env: Record<string, string>, options: { waitFor?: RegExp } = {}): Promise<MountProcess> {
  const child = spawn(process.execPath, [HINDSIGHT_BIN, 'mount', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  t.after(() => stop());
  const ready = options.waitFor ?? /Press Ctrl-C to stop/;
  for (const deadline = Date.now() + 30_000; !ready.test(out); await new Promise((r) => setTimeout(r, 50))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hindsight mount did not start (status ${child.exitCode}): ${out}${err}`);
  }
  const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(out)?.[1] as string;
  return {
    url: /at (http:\/\/\S+)/.exec(out)?.[1] as string,
    username: field('User'),
    password: field('Password'),
    process: child,
    exited,
    output: () => out,
    log: () => err,
    waitForLog: async (pattern, ms = 5000) => {
      for (const deadline = Date.now() + ms; !pattern.test(err); await new Promise((r) => setTimeout(r, 20))) {
        if (Date.now() > deadline) throw new Error(`the mount's log never matched ${pattern}: ${err}`);
      }
    },
    stop,
  };
}

/** The environment that makes rclone's `:webdav:` remote the mount, logged in as given. */
export function davRemoteEnv(url: string, user: string, password: string): Record<string, string> {
  return { RCLONE_CONFIG: '/dev/null', RCLONE_WEBDAV_URL: url, RCLONE_WEBDAV_VENDOR: 'other', RCLONE_WEBDAV_USER: user, RCLONE_WEBDAV_PASS: obscured(password) };
}

/** Runs rclone with `args` against the mount (`:webdav:PATH`), its output as bytes. */
export function rclone(args: readonly string[], env: Record<string, string>): SpawnSyncReturns<Buffer> {
  return spawnSync(RCLONE, [...args, '--low-level-retries', '1', '--retries', '1'], { env: { ...process.env, ...env }, maxBuffer: 1024 * 1024 * 1024, timeout: 300_000 });
}

/** The size of sourceAndRepository's big.bin: some two dozen chunks. */
export const BIG = 24 * 1024 * 1024 + 12345;

export function hindsight(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [HINDSIGHT_BIN, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 300_000 });
  assert.equal(result.status, 0, `hindsight ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Every file and folder below `root` (relative paths, folders with a trailing slash), with each file's bytes. */
export async function contents(root: string, prefix = ''): Promise<Map<string, Buffer | 'dir'>> {
  const out = new Map<string, Buffer | 'dir'>();
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) {
      out.set(`${path}/`, 'dir');
      for (const [inner, value] of await contents(root, path)) out.set(inner, value);
    } else if (entry.isFile()) out.set(path, await readFile(join(root, path)));
  }
  return out;
}

export function assertSameContents(actual: Map<string, Buffer | 'dir'>, expected: Map<string, Buffer | 'dir'>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [path, value] of expected) {
    const got = actual.get(path);
    assert.ok(value === 'dir' ? got === 'dir' : Buffer.isBuffer(got) && got.equals(value), `${path} differs`);
  }
}

/** A source with a large file, nested folders, awkward names; two snapshots, the first tagged. */
export async function sourceAndRepository(dir: string) {
  const source = join(dir, 'source');
  await mkdir(join(source, 'deep', 'er', 'est'), { recursive: true });
  await mkdir(join(source, 'empty'));
  await writeFile(join(source, 'big.bin'), seededBytes('big', BIG));
  await writeFile(join(source, 'hello.txt'), 'hello, drive\n');
  await writeFile(join(source, 'empty.txt'), '');
  await writeFile(join(source, 'with space & % # ?.txt'), 'awkward name\n');
  await writeFile(join(source, 'grüße.txt'), 'non-ASCII name\n');
  for (let i = 0; i < 40; i++) await writeFile(join(source, 'deep', 'er', 'est', `small-${i}.dat`), seededBytes(`small${i}`, 100 + i * 997));
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  hindsight(['init'], env);
  hindsight(['backup', '--tag', 'first', source], env);
  await writeFile(join(source, 'hello.txt'), 'hello again, drive\n');
  hindsight(['backup', source], env);
  return { source, env };
}

/** rclone as `rclone` runs it, without blocking this process (for a server running in it). */
export function rcloneAsync(args: readonly string[], env: Record<string, string>): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(RCLONE, [...args, '--low-level-retries', '1', '--retries', '1'], { env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr }));
  });
}

/** Why FUSE cannot be tested here, or undefined when it can. */
export function fuseUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'FUSE mounts are Linux only';
  if (process.getuid?.() !== 0) return 'needs root (the test machine may refuse FUSE to others)';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (spawnSync('fusermount3', ['--version']).error && spawnSync('fusermount', ['--version']).error) return 'no fusermount (apt-get install fuse3)';
  return undefined;
}
