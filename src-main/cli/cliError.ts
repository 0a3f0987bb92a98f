import { HindsightError } from '../../src-shared/errors.js';

/** A mistake in how the command was called: printed with a hint to --help, exit status 2. */
export class UsageError extends HindsightError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

/**
 * Exit statuses by error code, so scripts can tell "wrong password" from
 * "disk not mounted" without parsing messages.
 */
const EXIT_STATUS: Record<string, number> = {
  E_USAGE: 2,
  E_CANCELLED: 130,
  E_REPO_NOT_FOUND: 10,
  E_TARGET_MISSING: 10,
  E_UNREACHABLE: 10,
  E_LOCKED: 11,
  E_WRONG_PASSWORD: 12,
  E_DAMAGED: 13,
  E_SNAPSHOT_NOT_FOUND: 1,
};

/** A command that finished but skipped something (unreadable files, entries not restored). */
export const EXIT_WITH_WARNINGS = 3;

export function exitStatusFor(err: unknown): number {
  return err instanceof HindsightError ? (EXIT_STATUS[err.code] ?? 1) : 1;
}
