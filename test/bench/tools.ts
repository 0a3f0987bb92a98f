import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { measure, type Measurement } from './measure.js';

export interface Tool {
  name: string;
  version: string;
  repository: string;
  init(): void;
  /** `label` names the snapshot where a tool wants one (borg); restore takes the latest backup. */
  backup(label: string): Measurement;
  restore(target: string): Measurement;
  verify(): Measurement;
}

const password = 'benchmark password';

function installed(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name]).status === 0;
}

/** The short commit of a checkout, or '' where it is not a git checkout. */
function commitOf(root: string): string {
  const result = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : '';
}

/** `name` is "hindsight", or "baseline" for another checkout run beside it (--baseline). */
function hindsight(root: string, work: string, data: string, name = 'hindsight'): Tool {
  const bin = join(root, 'bin', 'hindsight.js');
  const env = { HINDSIGHT_REPO: join(work, `${name}-repo`), HINDSIGHT_PASSWORD: password, HINDSIGHT_CACHE_DIR: join(work, `${name}-cache`) };
  // Run through its #! line, as a user runs it: with that checkout's own node flags (ENGINE_EXEC_ARGV).
  const run = (...args: string[]) => measure({ command: bin, args, env });
  return {
    name,
    version: [JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string, commitOf(root)].filter(Boolean).join(' at '),
    repository: env.HINDSIGHT_REPO,
    init: () => void run('init'),
    backup: () => run('backup', '--no-default-excludes', data),
    restore: (target) => run('restore', `latest:${data}`, '--target', target),
    verify: () => run('check', '--read-data'),
  };
}

function restic(work: string, data: string): Tool {
  const env = { RESTIC_REPOSITORY: join(work, 'restic-repo'), RESTIC_PASSWORD: password, RESTIC_CACHE_DIR: join(work, 'restic-cache') };
  const run = (...args: string[]) => measure({ command: 'restic', args, env });
  return {
    name: 'restic',
    version: execFileSync('restic', ['version'], { encoding: 'utf8' }).split(' ')[1] ?? '?',
    repository: env.RESTIC_REPOSITORY,
    init: () => void run('init'),
    backup: () => run('backup', '--quiet', data),
    restore: (target) => run('restore', 'latest', '--target', target),
    verify: () => run('check', '--read-data'),
  };
}

function borg(work: string, data: string): Tool {
  const env = { BORG_REPO: join(work, 'borg-repo'), BORG_PASSPHRASE: password, BORG_CACHE_DIR: join(work, 'borg-cache'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' };
  const run = (args: string[], cwd?: string) => measure({ command: 'borg', args, env, okStatuses: [0, 1], ...(cwd ? { cwd } : {}) });
  // borg has no "latest" for extract: remember the last archive made.
  let latest = '';
  return {
    name: 'borg',
    version: execFileSync('borg', ['--version'], { encoding: 'utf8' }).trim().split(' ')[1] ?? '?',
    repository: env.BORG_REPO,
    init: () => void run(['init', '--encryption=repokey-blake2']),
    backup: (label) => {
      latest = label;
      return run(['create', '--compression', 'zstd,3', `::${label}`, data]);
    },
    restore: (target) => run(['extract', `::${latest}`], target),
    verify: () => run(['check', '--verify-data']),
  };
}

/**
 * Hindsight, another Hindsight checkout where given (`baseline`), and restic and borg where installed
 * (encryption on; zstd 3 for Hindsight and borg, restic's default compression).
 */
export function makeTools(root: string, work: string, data: string, only: string | undefined, baseline?: string): Tool[] {
  const all = [hindsight(root, work, data)];
  if (baseline !== undefined) all.push(hindsight(baseline, work, data, 'baseline'));
  if (installed('restic')) all.push(restic(work, data));
  if (installed('borg')) all.push(borg(work, data));
  return only ? all.filter((tool) => tool.name === only) : all;
}
