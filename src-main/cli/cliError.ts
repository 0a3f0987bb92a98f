import { HindsightError } from '../../src-shared/errors.js';

/** A mistake in how the command was called: printed with a hint to --help, exit status 2. */
export class UsageError extends HindsightError {
  constructor(message: string) {
    super('E_USAGE', message);
  }
}

/** Standard output was closed early (`hindsight ls | head`): nothing more to say, as a Unix tool killed by SIGPIPE. */
export class OutputClosed extends HindsightError {
  constructor() {
    super('E_OUTPUT_CLOSED', 'Standard output was closed.');
  }
}

/** A password could not be had (none given, unreadable file, two that differ): a runtime failure, not wrong usage. */
export class PasswordError extends HindsightError {
  constructor(message: string) {
    super('E_PASSWORD', message);
  }
}

/**
 * Exit statuses by error code, so scripts can tell "wrong password" from
 * "disk not mounted" without parsing messages. README's "Exit status" table
 * lists them; every other error exits 1.
 */
const EXIT_STATUS: Record<string, number> = {
  E_USAGE: 2,
  E_CANCELLED: 130,
  E_INTERRUPTED: 130,
  E_OUTPUT_CLOSED: 141,
  E_REPO_NOT_FOUND: 10,
  E_TARGET_MISSING: 10,
  E_UNREACHABLE: 10,
  E_NO_PARENT: 10,
  E_LOCKED: 11,
  E_WRONG_PASSWORD: 12,
  E_PASSWORD: 12,
  E_DAMAGED: 13,
  E_SNAPSHOT_NOT_FOUND: 1,
};

/** Damage found by check (the same as any other E_DAMAGED). */
export const EXIT_DAMAGED = 13;

/** A command that finished but skipped something (unreadable files, entries not restored). */
export const EXIT_WITH_WARNINGS = 3;

/** Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

export function exitStatusFor(err: unknown): number {
  return err instanceof HindsightError ? (EXIT_STATUS[err.code] ?? 1) : 1;
}
