import { HindsightError } from '../../src-shared/errors.js';

/**
 * A long operation (restore, check, prune) stopped through its AbortSignal at a safe point: the
 * repository is as consistent as before it started, and nothing half-written is left behind.
 */
export class OperationInterrupted extends HindsightError {
  constructor(message: string) {
    super('E_INTERRUPTED', message);
  }
}

/** At a safe point of a long operation: throws OperationInterrupted (with `message`) once `signal` is aborted. */
export function stopIfAborted(signal: AbortSignal | undefined, message: string): void {
  if (signal?.aborted) throw new OperationInterrupted(message);
}
