/**
 * Every error Hindsight shows a person carries a stable `code` (for the CLI's
 * exit status, the UI and tests) and a message written for that person.
 * Internal detail that would only confuse goes in `cause`.
 */
export class HindsightError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export function isHindsightError(err: unknown): err is HindsightError {
  return err instanceof HindsightError;
}
