import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Lets the event loop take a turn once a chain of awaits has held the thread for a slice. A walk through
 * trees already read (a window of a tree pack in memory) resolves each `await` as a microtask, and
 * microtasks run to the end before any I/O callback or worker message: `check --read-data` walked the
 * linux tree's 5,095 folders in stretches of a quarter of a second (perf, by thread) while both verifier
 * threads waited for their next piece, since answering them and reading that piece are I/O callbacks.
 */
export class EventLoopTurns {
  private sliceStarted = performance.now();

  constructor(private readonly sliceMs = 1) {}

  /** Resolves at once while the slice lasts; past it, after a turn of the event loop. */
  async take(): Promise<void> {
    if (performance.now() - this.sliceStarted < this.sliceMs) return;
    await nextTurn();
    this.sliceStarted = performance.now();
  }
}
