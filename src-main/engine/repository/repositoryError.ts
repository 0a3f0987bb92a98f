import { HindsightError } from '../../../src-shared/errors.js';

export type RepositoryErrorCode =
  | 'E_REPO_NOT_FOUND'
  | 'E_WRONG_PASSWORD'
  | 'E_DAMAGED'
  | 'E_BLOB_NOT_FOUND'
  | 'E_SNAPSHOT_NOT_FOUND'
  | 'E_PATH_NOT_FOUND'
  | 'E_UNSUPPORTED_FORMAT'
  | 'E_LOCKED'
  | 'E_LOCK_LOST'
  | 'E_KEY_NOT_FOUND'
  | 'E_KEY_IN_USE'
  | 'E_INVALID_ARGUMENT'
  | 'E_CLOSED';

export class RepositoryError extends HindsightError {
  declare readonly code: RepositoryErrorCode;

  constructor(code: RepositoryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** What a person meeting damage should do; check, which is that, leaves it out of its own report. */
export const CHECK_ADVICE = ' Run "hindsight check" to see what is affected.';

/** The one wording for "this object failed authentication", so every damaged object reads alike. */
export function damaged(what: string, detail: string, cause?: unknown): RepositoryError {
  return new RepositoryError(
    'E_DAMAGED',
    `${what} is damaged or was modified (${detail}). Hindsight will not use it.${CHECK_ADVICE}`,
    cause === undefined ? undefined : { cause },
  );
}
