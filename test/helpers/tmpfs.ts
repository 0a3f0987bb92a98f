import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A fresh folder with a small tmpfs mounted on it (root only), or undefined with the test marked skipped. */
export function tmpfsDir(t: TestContext, options: string): Promise<string | undefined> {
  return mountedDir(t, 'tmpfs', ['-o', options]);
}

/** A fresh folder with a ramfs mounted on it (no extended attributes, no file flags; root only), or undefined with the test marked skipped. */
export function ramfsDir(t: TestContext): Promise<string | undefined> {
  return mountedDir(t, 'ramfs', []);
}

async function mountedDir(t: TestContext, type: string, options: string[]): Promise<string | undefined> {
  const where = await mkdtemp(join(tmpdir(), `hindsight-${type}-`));
  try {
    execFileSync('mount', ['-t', type, ...options, type, where], { stdio: 'pipe' });
  } catch (err) {
    await rm(where, { recursive: true });
    t.skip(`cannot mount a ${type} here (${(err as Error).message.split('\n')[0]}); needs root`);
    return undefined;
  }
  t.after(async () => {
    execFileSync('umount', ['-l', where]);
    await rm(where, { recursive: true });
  });
  return where;
}

/** Changes a mounted tmpfs's size limit, as freeing space on a full disk would. */
export function resizeTmpfs(where: string, size: string): void {
  execFileSync('mount', ['-o', `remount,size=${size}`, where], { stdio: 'pipe' });
}
