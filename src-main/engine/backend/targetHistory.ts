import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheRoot } from '../cacheDir.js';
import type { TargetStatus } from './replicatedBackend.js';

/** What this computer remembers about a target between runs, for status lines and the UI. */
export interface TargetHistory {
  /** ISO time the target last completed a call in a run that used it. */
  readonly lastSuccess?: string;
  readonly lastFailure?: string;
  readonly lastError?: string;
  /** It missed writes and has not been repaired since. */
  readonly behind: boolean;
}

export function targetHistoryFile(): string {
  return join(cacheRoot(), 'targets.json');
}

export async function readTargetHistory(file = targetHistoryFile()): Promise<Record<string, TargetHistory>> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, TargetHistory>;
  } catch {
    // Missing or unreadable: it is a convenience record, rebuilt by the next run.
    return {};
  }
}

/**
 * Merges a run's view of its targets into the record. A target stays behind
 * until `repaired` says otherwise: a later backup that reaches it does not
 * bring back what it missed.
 */
export async function recordTargets(statuses: readonly TargetStatus[], options: { repaired?: boolean; file?: string } = {}): Promise<void> {
  const file = options.file ?? targetHistoryFile();
  const history = await readTargetHistory(file);
  const now = new Date().toISOString();
  for (const status of statuses) {
    if (status.reachable === undefined) continue;
    const previous = history[status.location];
    history[status.location] = {
      ...previous,
      ...(status.lastSuccess ? { lastSuccess: status.lastSuccess.toISOString() } : {}),
      ...(status.reachable ? {} : { lastFailure: now, lastError: status.lastError ?? 'unreachable' }),
      behind: status.behind || (!options.repaired && (previous?.behind ?? false)),
    };
  }
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(history, null, 2)}\n`);
  await rename(temp, file);
}
