import type { JobRecord } from '../../src-shared/api.js';
import type { Plan } from '../../src-shared/plan.js';

export interface Note {
  readonly title: string;
  readonly body: string;
}

const DAY_MS = 24 * 3600 * 1000;

/** A backup that ended: failures always, successes when the person asked for them. */
export function finishedJobNote(job: JobRecord, planName: string | undefined, notifyOnSuccess: boolean): Note | undefined {
  if (job.kind !== 'backup') return undefined;
  const name = planName ?? 'a plan';
  if (job.result === 'failed') return { title: 'Backup failed', body: `${name}: ${job.message ?? 'see the history for details'}` };
  if (job.result === 'succeeded' && notifyOnSuccess) return { title: 'Backup finished', body: `${name} is backed up.` };
  return undefined;
}

/**
 * Plans with no successful backup for `days` days (counted from the plan's
 * creation when it never succeeded), each at most once per `days` days, so a
 * laptop that stays away from its backup disk is reminded, not nagged.
 */
export class OverdueReminder {
  private readonly remindedAt = new Map<string, number>();

  notes(plans: readonly Plan[], jobs: readonly JobRecord[], now: number, days: number): Note[] {
    const notes: Note[] = [];
    for (const plan of plans) {
      if (!plan.enabled) continue;
      const lastSuccess = jobs
        .filter((j) => j.kind === 'backup' && j.planId === plan.id && j.result === 'succeeded')
        .map((j) => Date.parse(j.endedAt ?? j.startedAt))
        .reduce((a, b) => Math.max(a, b), Date.parse(plan.createdAt));
      const since = now - lastSuccess;
      const reminded = this.remindedAt.get(plan.id);
      if (since < days * DAY_MS || (reminded !== undefined && now - reminded < days * DAY_MS)) continue;
      this.remindedAt.set(plan.id, now);
      notes.push({ title: 'No recent backup', body: `${plan.name} has not been backed up for ${Math.floor(since / DAY_MS)} days.` });
    }
    return notes;
  }
}
