/** What to do after the agent process died. */
export type AfterCrash = { readonly restartInMs: number; readonly attempt: number } | { readonly giveUp: true; readonly crashes: number };

/**
 * When to restart a crashed agent: at once-ish the first time, then waiting
 * twice as long after each crash in a row (1 s, 2 s, 4 s … at most a minute),
 * and giving up after `maxCrashes` in a row, so a crash at startup (a broken
 * database, a missing native module) does not spin the CPU forever. An agent
 * that stayed up for `stableMs` has recovered: its next crash counts as a first.
 */
export class RestartBackoff {
  private crashes = 0;
  private upSince: number | undefined;

  constructor(
    private readonly options: { readonly baseMs: number; readonly maxMs: number; readonly maxCrashes: number; readonly stableMs: number } = {
      baseMs: 1000,
      maxMs: 60_000,
      maxCrashes: 6,
      stableMs: 5 * 60_000,
    },
  ) {}

  /** The agent said it is ready. */
  started(now: number): void {
    this.upSince = now;
  }

  crashed(now: number): AfterCrash {
    if (this.upSince !== undefined && now - this.upSince >= this.options.stableMs) this.crashes = 0;
    this.upSince = undefined;
    this.crashes += 1;
    if (this.crashes > this.options.maxCrashes) return { giveUp: true, crashes: this.crashes };
    return { restartInMs: Math.min(this.options.maxMs, this.options.baseMs * 2 ** (this.crashes - 1)), attempt: this.crashes };
  }
}
