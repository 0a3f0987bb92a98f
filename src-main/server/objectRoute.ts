import { OBJECT_TYPES, isValidObjectName, type ObjectHandle, type ObjectType } from '../engine/backend/backend.js';

/**
 * What a request path names under the restic REST protocol: a repository (its path below the server's
 * root, one or more folder names), and inside it a type folder (a listing) or one object. Anything else
 * is `undefined`, answered 400 without touching storage.
 */
export type ObjectRoute =
  | { readonly kind: 'repository'; readonly repository: readonly string[] }
  | { readonly kind: 'folder'; readonly repository: readonly string[]; readonly type: Exclude<ObjectType, 'config'> }
  | { readonly kind: 'object'; readonly repository: readonly string[]; readonly handle: ObjectHandle };

/**
 * A repository folder's name: letters, digits, '.', '_', '-', not starting with '.' (no "..", no hidden
 * server files) and not a type folder's name (so where the repository ends is never ambiguous).
 */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
/** How deep repositories may nest below the server's root (alice/laptop is 2). */
export const MAX_REPOSITORY_DEPTH = 8;

export function isRepositorySegment(segment: string): boolean {
  return SEGMENT.test(segment) && !(OBJECT_TYPES as readonly string[]).includes(segment);
}

/** Parses the path of a request URL (without the query); percent-encoding is refused rather than decoded. */
export function parseObjectRoute(pathname: string): ObjectRoute | undefined {
  if (!pathname.startsWith('/') || pathname.includes('%') || pathname.includes('//')) return undefined;
  const segments = pathname.slice(1).split('/');
  // "/alice/laptop/" and "/alice/laptop/data/" end in an empty segment: a folder.
  const trailingSlash = segments.at(-1) === '';
  if (trailingSlash) segments.pop();
  let repositoryEnd = segments.length;
  let route: ObjectRoute | undefined;
  const last = segments.at(-1);
  const beforeLast = segments.at(-2);
  if (last === 'config' && !trailingSlash) {
    repositoryEnd -= 1;
    route = { kind: 'object', repository: [], handle: { type: 'config', name: 'config' } };
  } else if (last !== undefined && isFolderType(last)) {
    repositoryEnd -= 1;
    route = { kind: 'folder', repository: [], type: last };
  } else if (last !== undefined && beforeLast !== undefined && isFolderType(beforeLast) && !trailingSlash) {
    if (!isValidObjectName(beforeLast, last)) return undefined;
    repositoryEnd -= 2;
    route = { kind: 'object', repository: [], handle: { type: beforeLast, name: last } };
  }
  const repository = segments.slice(0, repositoryEnd);
  if (repository.length === 0 || repository.length > MAX_REPOSITORY_DEPTH || !repository.every(isRepositorySegment)) return undefined;
  return route ? { ...route, repository } : { kind: 'repository', repository };
}

function isFolderType(segment: string): segment is Exclude<ObjectType, 'config'> {
  return segment !== 'config' && (OBJECT_TYPES as readonly string[]).includes(segment);
}
