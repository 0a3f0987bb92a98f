/**
 * Failed logins counted per client address: past `maxFailures` within `windowMs`, that address is
 * answered 429 without a password check until the window has passed, so guessing passwords over the
 * network goes no faster than a few a minute (and costs the server no Argon2 work while it is held off).
 */
export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `address` may try again; 0 when it may now. */
  heldOff(address: string): number {
    const entry = this.failures.get(address);
    if (!entry) return 0;
    const left = entry.since + this.windowMs - this.now();
    if (left <= 0) {
      this.failures.delete(address);
      return 0;
    }
    return entry.count >= this.maxFailures ? left : 0;
  }

  failed(address: string): void {
    const now = this.now();
    const entry = this.failures.get(address);
    if (entry && now - entry.since < this.windowMs) entry.count += 1;
    else this.failures.set(address, { count: 1, since: now });
    // Forget addresses whose window passed, so a scan from many addresses does not grow the map for ever.
    if (this.failures.size > 10_000) {
      for (const [known, { since }] of this.failures) if (now - since >= this.windowMs) this.failures.delete(known);
    }
  }
}
