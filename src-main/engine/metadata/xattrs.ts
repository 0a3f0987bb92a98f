import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { HindsightError } from '../../../src-shared/errors.js';
import { nativeAddon } from '../nativeAddon.js';

/** An extended attribute as read from the file system. */
export interface Xattr {
  readonly name: string;
  readonly value: Buffer;
}

/** The calls used from @napi-rs/xattr; all take a path and never follow a symbolic link (llistxattr, lgetxattr, lsetxattr). */
interface XattrBinding {
  listAttributesSync(path: string): string[];
  getAttributeSync(path: string, name: string): Buffer | null;
  setAttributeSync(path: string, name: string, value: Uint8Array): void;
}

/** An extended attribute could not be read or written; `code` is the errno name when the system gave one. */
export class XattrError extends HindsightError {}

/**
 * @napi-rs/xattr: prebuilt binaries (no compiler at install), maintained, and its calls never follow
 * symbolic links. fs-xattr, the other binding, builds with node-gyp and follows links. Loaded lazily
 * and optionally: where it has no binary (Windows) extended attributes are simply not kept.
 */
let binding: XattrBinding | null | undefined;

function loadBinding(): XattrBinding | null {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)('@napi-rs/xattr') as XattrBinding;
    } catch {
      binding = null;
    }
  }
  return binding;
}

/** Whether this platform's extended attributes can be read and written at all. */
export function xattrsSupported(): boolean {
  return process.platform !== 'win32' && loadBinding() !== null;
}

/**
 * The binding takes paths as JS strings, passed on as UTF-8: a path whose bytes are not UTF-8 cannot
 * be reached through it (undefined).
 */
function pathString(path: Buffer): string | undefined {
  const text = path.toString('utf8');
  return Buffer.from(text, 'utf8').equals(path) ? text : undefined;
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, number]) => [number, name]));

/** The binding reports errors as "Operation not permitted (os error 1)": the errno's name, from its number. */
function xattrError(err: unknown): XattrError {
  const message = (err as Error).message;
  const errno = /\(os error (\d+)\)/.exec(message)?.[1];
  const code = errno === undefined ? 'E_XATTR' : (ERRNO_NAMES.get(Number(errno)) ?? 'E_XATTR');
  return new XattrError(code, message.replace(/\s*\(os error \d+\)$/, ''));
}

/** Errors meaning the file system keeps no extended attributes (or none of this namespace). */
export function isUnsupported(code: string): boolean {
  return code === 'ENOTSUP' || code === 'EOPNOTSUPP';
}

/** The entry is gone since it was listed: the backup says so when it reads it, or records it as listed. */
function isGone(code: string): boolean {
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * An entry's extended attributes, sorted by name; undefined when it has none, which costs one
 * listing (the binding makes it two calls: the size, then the names); values are fetched only for
 * names listed. A file system without extended attributes has none. So has, as far as can be told,
 * an entry whose path is not UTF-8, which the binding cannot reach: a warning for each would make
 * every backup of such names end "with warnings" (README says so instead). An entry gone since it
 * was listed has none either. Throws XattrError.
 */
export function readXattrs(path: Buffer): Xattr[] | undefined {
  const calls = loadBinding();
  if (calls === null) return undefined;
  const text = pathString(path);
  if (text === undefined) return undefined;
  let names: string[];
  try {
    names = calls.listAttributesSync(text);
  } catch (err) {
    const error = xattrError(err);
    if (isUnsupported(error.code) || isGone(error.code)) return undefined;
    throw error;
  }
  if (names.length === 0) return undefined;
  const xattrs: Xattr[] = [];
  for (const name of names.sort()) {
    let value: Buffer | null;
    try {
      value = calls.getAttributeSync(text, name);
    } catch (err) {
      const error = xattrError(err);
      if (isGone(error.code)) return undefined;
      throw error;
    }
    // Removed between the listing and the read.
    if (value !== null) xattrs.push({ name, value });
  }
  return xattrs.length > 0 ? xattrs : undefined;
}

/**
 * For each entry of `folder` named in `names` (concatenated, `ends[i]` where name i ends), whether it
 * may have extended attributes, so that only those are read (readXattrs): false where the system says
 * it has none, keeps none, or the entry is gone. Undefined where the addon cannot tell (not built, or
 * another system): read them all. One call for the folder; see the addon's xattrSizesAt.
 */
export function mayHaveXattrs(folder: Buffer, names: Buffer, ends: Uint32Array): boolean[] | undefined {
  const sizes = new Int32Array(ends.length);
  if ((nativeAddon()?.xattrSizesAt?.(folder, names, ends, sizes) ?? -1) !== 0) return undefined;
  return Array.from(sizes, (size) => size !== 0 && !(size < 0 && NONE_ERRNOS.has(-size)));
}

/** What readXattrs answers as "no attributes" without an error (see isUnsupported and isGone). */
const NONE_ERRNOS = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOENT', 'ENOTDIR'].map((name) => osConstants.errno[name as keyof typeof osConstants.errno]).filter((errno) => errno !== undefined));

/**
 * Sets `xattrs` on the entry at `path` (never through a symbolic link). Each that cannot be set is
 * named in the answer with why; the others are set all the same.
 */
export function writeXattrs(path: Buffer, xattrs: readonly Xattr[]): { readonly name: string; readonly error: XattrError }[] {
  const calls = loadBinding();
  if (calls === null) return xattrs.map(({ name }) => ({ name, error: new XattrError('E_XATTR_PLATFORM', 'this system keeps no extended attributes') }));
  const text = pathString(path);
  if (text === undefined) return xattrs.map(({ name }) => ({ name, error: new XattrError('E_XATTR_PATH', 'the path is not valid UTF-8, which the attribute library cannot take') }));
  const failures: { name: string; error: XattrError }[] = [];
  for (const { name, value } of xattrs) {
    try {
      calls.setAttributeSync(text, name, value);
    } catch (err) {
      failures.push({ name, error: xattrError(err) });
    }
  }
  return failures;
}
