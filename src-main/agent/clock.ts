/** Time as the agent sees it; tests pass a clock they move by hand. */
export interface Clock {
  now(): number;
  /** Calls `fn` after `ms` of this clock's time; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
};
