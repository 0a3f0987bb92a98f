import type { JobKind, JobRecord } from './api.js';

/** What a job of each kind is doing, as a badge or the tray says it. */
const DOING: Readonly<Record<JobKind, string>> = {
  backup: 'Backing up',
  restore: 'Restoring',
  check: 'Checking',
  prune: 'Pruning',
  seed: 'Seeding a target',
};

export function doing(kind: JobKind): string {
  return DOING[kind];
}

/**
 * What the running jobs are doing, each kind once in the order they started: "Restoring", "Backing up
 * and checking". A restore is not a backup, and a person glancing at the badge should not be told it is.
 */
export function activityOf(jobs: readonly Pick<JobRecord, 'kind'>[]): string | undefined {
  const kinds = [...new Set(jobs.map((job) => job.kind))].map((kind, i) => (i === 0 ? DOING[kind] : DOING[kind].toLowerCase()));
  if (kinds.length <= 1) return kinds[0];
  return `${kinds.slice(0, -1).join(', ')} and ${kinds[kinds.length - 1]}`;
}
