/**
 * Holds back an action (showing the window) until the app has started: a second launch during start-up
 * asks for the window before `app.whenReady()`, and creating one then throws. A request made too early
 * is remembered, and `open` says so.
 */
export class StartGate {
  private started = false;
  private asked = false;

  constructor(private readonly action: () => void) {}

  request(): void {
    if (this.started) this.action();
    else this.asked = true;
  }

  /** Marks the app started; true when the action was asked for before (the caller then runs it). */
  open(): boolean {
    this.started = true;
    return this.asked;
  }
}
