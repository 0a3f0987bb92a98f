import type { Permissions } from './restHandler.js';
import type { ServerUser } from './userFile.js';

/**
 * What a user may do: use the repositories below their folder (DIR/alice/… for alice, or the shared
 * folder given with --repos), every repository when admin; add and read only when append-only.
 */
export function permissionsFor(user: ServerUser): Permissions {
  const prefix = user.repos.split('/');
  return {
    appendOnly: user.appendOnly,
    repositories: user.admin ? 'every repository' : `repositories under ${user.repos}/`,
    mayUse: (repository) => user.admin || (repository.length > prefix.length && prefix.every((segment, i) => repository[i] === segment)),
    quota: user.quotaBytes === undefined ? undefined : { bytes: user.quotaBytes, prefix },
  };
}
