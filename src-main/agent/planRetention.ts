import type { Progress, Warning } from '../../src-shared/progress.js';
import { OperationInterrupted } from '../engine/interruption.js';
import { describeLockHolder, type LockWait } from '../engine/repository/lock.js';

/**
 * How long a plan's retention (forget after each backup, prune when due) waits for a lock another
 * process holds (another plan's or another computer's backup, a prune run by hand) before it gives up
 * until the plan's next backup. It outlasts a crashed holder's lock too, which is stale after 30 minutes
 * without a heartbeat.
 */
export const RETENTION_LOCK_WAIT_MS = 40 * 60_000;

/** The parts of a job's context retention reports through. */
export interface RetentionContext {
  readonly signal: AbortSignal;
  progress(progress: Progress): void;
  warn(warning: Warning): void;
}

/** The steps of a plan's retention after its backup. */
export type RetentionStep = 'forget' | 'prune';

/** Waits for a lock another process holds, saying whose as the job's progress; the job's Cancel or Pause ends the wait. */
export function retentionLockWait(context: RetentionContext): LockWait {
  const started = Date.now();
  return {
    waitMs: RETENTION_LOCK_WAIT_MS,
    signal: context.signal,
    onWait: (holder) => context.progress({ operation: 'prune', phase: `waiting for ${describeLockHolder(holder)}`, filesDone: 0, bytesDone: 0, bytesPerSecond: 0, elapsedMs: Date.now() - started }),
  };
}

/**
 * What a backup whose snapshot is saved reports when a retention step did not finish: the backup
 * still succeeded. A step stopped at a safe point (Cancel, Pause, Quit) says so in the job's message;
 * one that failed (a lock held past the wait, a server that refuses deletes) says why there and as
 * a warning, so the history lists it among the problems. Either way it runs again after the next backup.
 */
export function retentionNotDone(step: RetentionStep, err: unknown, context: RetentionContext, where: string): { summary: Record<string, string>; message: string } {
  const again = 'It runs again after the next backup.';
  if (err instanceof OperationInterrupted && context.signal.aborted) return { summary: { [step]: 'stopped' }, message: `Backed up; then ${lowerFirst(err.message)} ${again}` };
  const what = step === 'forget' ? 'forgetting old snapshots' : 'the prune';
  const reason = (err as Error | undefined)?.message ?? String(err);
  context.warn({ path: where, message: `${what} failed after the backup: ${reason}` });
  return { summary: { [step]: 'failed' }, message: `Backed up; then ${what} failed: ${lowerFirst(reason)} ${again}` };
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
