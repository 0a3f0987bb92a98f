import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_PASSWORD } from './testRepository.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));
export const NOBODY = 65534;

/**
 * Restores `what` ("SNAPSHOT:PATH") from the repository at `repository` into DIR/restored as the user
 * nobody, through the CLI under setpriv (the caller checks that setpriv exists and that it runs as root).
 * The repository is made readable by everyone first, as on a shared backup disk. Returns the restore's
 * exit status, its output, and the target.
 */
export function restoreAsNobody(repository: string, what: string, dir: string): { status: number | null; output: string; target: string } {
  const target = join(dir, 'restored');
  const cache = join(dir, 'nobody-cache');
  for (const folder of [target, cache]) {
    mkdirSync(folder);
    chownSync(folder, NOBODY, NOBODY);
  }
  execFileSync('chmod', ['-R', 'a+rwX', join(repository, '..')]);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HINDSIGHT_PASSWORD: TEST_PASSWORD, HINDSIGHT_CACHE_DIR: cache };
  const run = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, bin, 'restore', '--repo', repository, what, '--target', target], { env, encoding: 'utf8' });
  return { status: run.status, output: run.stderr + run.stdout, target };
}
