import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { contents, davRemoteEnv, hindsight, startMount } from './mountProcess.js';
import { RCLONE } from './restServer.js';

export interface MountMemory {
  /** The mount process's largest resident size sampled while rclone read (every 100 ms), MiB. */
  readonly peakRssMiB: number;
  /** Its resident size once started, before any read, MiB. */
  readonly startRssMiB: number;
  readonly seconds: number;
  readonly bigMiBps: number;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/** Writes `bytes` of seeded incompressible data to `path` in 16 MiB steps; returns its SHA-256. */
async function writeBigFile(path: string, bytes: number): Promise<string> {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update('mount-memory').digest(), Buffer.alloc(16));
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  const step = 16 * 1024 * 1024;
  for (let done = 0; done < bytes; done += step) {
    const part = cipher.update(Buffer.alloc(Math.min(step, bytes - done)));
    hash.update(part);
    await file.write(part);
  }
  await file.close();
  return hash.digest('hex');
}

/** rclone `args`, its standard output hashed (never held): resolves with the hash and byte count. */
function rcloneHashed(args: readonly string[], env: Record<string, string>): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(RCLONE, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let bytes = 0;
    let log = '';
    child.stdout.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ sha256: hash.digest('hex'), bytes }) : reject(new Error(`rclone ${args[0]} exited ${code}: ${log}`))));
  });
}

/**
 * Backs up a file of `bigBytes` and `smallFiles` small files, mounts the repository, and has rclone read
 * the big file and copy the small ones (8 transfers) at the same time, sampling the mount's resident
 * memory from /proc while they run. Checks what rclone read against the source.
 */
export async function measureMountMemory(t: TestContext, dir: string, bigBytes: number, smallFiles: number): Promise<MountMemory> {
  const source = join(dir, 'source');
  await mkdir(join(source, 'small'), { recursive: true });
  const bigHash = await writeBigFile(join(source, 'big.bin'), bigBytes);
  for (let i = 0; i < smallFiles; i++) await writeFile(join(source, 'small', `file-${i}.txt`), `small file ${i}\n`.repeat(1 + (i % 50)));
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  hindsight(['init'], env);
  hindsight(['backup', source], env);

  const mount = await startMount(t, [], env);
  const pid = mount.process.pid as number;
  const dav = davRemoteEnv(mount.url, mount.username, mount.password);
  const startRssMiB = await rssMiB(pid);
  let peakRssMiB = startRssMiB;
  const sampler = setInterval(() => void rssMiB(pid).then((rss) => (peakRssMiB = Math.max(peakRssMiB, rss)), () => undefined), 100);
  const started = Date.now();
  const out = join(dir, 'copied');
  let bigSeconds = 0;
  try {
    const [big] = await Promise.all([
      rcloneHashed(['cat', `:webdav:latest${source}/big.bin`], dav).then((r) => ((bigSeconds = (Date.now() - started) / 1000), r)),
      rcloneHashed(['copy', `:webdav:latest${source}/small`, out, '--transfers', '8', '--checkers', '8'], dav),
    ]);
    if (big.sha256 !== bigHash || big.bytes !== bigBytes) throw new Error('the big file read through the mount differs from its source');
  } finally {
    clearInterval(sampler);
  }
  const seconds = (Date.now() - started) / 1000;
  const [copied, original] = [await contents(out), await contents(join(source, 'small'))];
  if (copied.size !== original.size || [...original].some(([path, bytes]) => !(copied.get(path) as Buffer | undefined)?.equals(bytes as Buffer))) {
    throw new Error('the small files copied through the mount differ from their source');
  }
  await mount.stop('SIGTERM');
  return { peakRssMiB, startRssMiB, seconds, bigMiBps: bigBytes / 1024 / 1024 / bigSeconds };
}
