import { Cron } from 'croner';
import { HindsightError } from '../../src-shared/errors.js';
import type { Plan, Schedule } from '../../src-shared/plan.js';
import type { PlanState } from './agentDatabase.js';

/** How often a continuous plan scans everything when its file watcher cannot run. */
export const WATCH_FALLBACK_MS = 15 * 60_000;
const RETRY_FIRST_MS = 60_000;
const RETRY_MAX_MS = 60 * 60_000;

export class InvalidSchedule extends HindsightError {
  constructor(message: string) {
    super('E_INVALID_SCHEDULE', message);
  }
}

/** Throws a person-readable error for a cron expression croner cannot read. */
export function validateSchedule(schedule: Schedule): void {
  if (schedule.kind !== 'cron') return;
  try {
    new Cron(schedule.expression);
  } catch (err) {
    throw new InvalidSchedule(`"${schedule.expression}" is not a cron expression (${(err as Error).message.replace(/^CronPattern: /, '')}).`);
  }
}

/** Wait before retry number `failures` (1, 2, …): doubling from one minute, at most an hour, with ±20% jitter. */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(RETRY_FIRST_MS * 2 ** Math.max(0, failures - 1), RETRY_MAX_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * When a plan's next run is due, in ms since the epoch; undefined when it only
 * runs by hand (or on file changes). The schedule counts from the last run,
 * so runs missed while the machine slept or was off come due at once, and
 * only once: after that run the schedule counts from it again.
 */
export function dueAt(plan: Plan, state: PlanState, options: { watching: boolean }): number | undefined {
  if (!plan.enabled) return undefined;
  const created = Date.parse(plan.createdAt);
  const from = state.lastRunAt ?? created;
  let due: number | undefined;
  switch (plan.schedule.kind) {
    case 'manual':
      due = undefined;
      break;
    case 'interval':
      due = state.lastRunAt === undefined ? created : from + plan.schedule.everyMinutes * 60_000;
      break;
    case 'cron':
      due = new Cron(plan.schedule.expression).nextRun(new Date(from))?.getTime();
      break;
    case 'continuous':
      // The first backup walks everything; after that the watcher decides, or periodic scans when it cannot run.
      due = state.lastRunAt === undefined ? created : options.watching ? undefined : from + WATCH_FALLBACK_MS;
      break;
  }
  if (state.retryAt !== undefined) due = due === undefined ? state.retryAt : Math.min(due, state.retryAt);
  return due;
}
