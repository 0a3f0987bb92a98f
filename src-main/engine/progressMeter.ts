import type { Progress } from '../../src-shared/progress.js';

type Counts = Pick<Progress, 'phase' | 'filesDone' | 'filesTotal' | 'bytesDone' | 'bytesTotal' | 'currentPath'>;

/**
 * Turns counters into throttled Progress events with a rate and an ETA, so
 * every long operation reports the same way.
 */
export class ProgressMeter {
  readonly counts: { -readonly [K in keyof Counts]: Counts[K] } = { phase: 'starting', filesDone: 0, bytesDone: 0 };
  private readonly started = Date.now();
  private lastEmit = 0;

  constructor(
    private readonly operation: Progress['operation'],
    private readonly listener: ((progress: Progress) => void) | undefined,
    private readonly intervalMs = 250,
  ) {}

  /** Emits if the interval has passed (or always, with `force`). */
  tick(force = false): void {
    if (!this.listener) return;
    const now = Date.now();
    if (!force && now - this.lastEmit < this.intervalMs) return;
    this.lastEmit = now;
    this.listener(this.snapshot(now));
  }

  snapshot(now = Date.now()): Progress {
    const elapsedMs = now - this.started;
    const bytesPerSecond = elapsedMs > 0 ? (this.counts.bytesDone * 1000) / elapsedMs : 0;
    const { bytesTotal, bytesDone } = this.counts;
    const etaSeconds = bytesTotal !== undefined && bytesPerSecond > 0 ? Math.max(0, (bytesTotal - bytesDone) / bytesPerSecond) : undefined;
    return { operation: this.operation, ...this.counts, bytesPerSecond, elapsedMs, ...(etaSeconds !== undefined ? { etaSeconds } : {}) };
  }
}
