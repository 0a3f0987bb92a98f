import type { BrowseEntry } from '../../../src-shared/api.js';
import { FormatViolation } from '../repository/packFormat.js';
import type { Repository } from '../repository/repository.js';
import { damaged } from '../repository/repositoryError.js';
import { NODE_TYPES, displayName } from './tree.js';

/** Names that show as they are: printable ASCII without a backslash (displayName escapes the rest). */
const PLAIN_NAME = /^[\x20-\x5b\x5d-\x7e]+$/;
const DECIMAL = /^-?\d{1,30}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A folder's entries as a listing shows them (name, type, size, time, link target, attribute names),
 * read straight from the tree's JSON. decodeTree makes every entry whole, with a Buffer per name and
 * chunk id and a BigInt per time and inode: for a 50,000-entry folder (a 12 MB tree) that took
 * three times as long as JSON.parse itself, for fields a listing never shows. Only the fields read
 * are checked here; restore and check decode the full entries and check the rest.
 */
export async function loadListing(repository: Repository, treeId: Buffer): Promise<BrowseEntry[]> {
  const plaintext = await repository.loadBlob(treeId);
  try {
    return decodeListing(plaintext);
  } catch (err) {
    if (err instanceof FormatViolation) throw damaged(`Tree ${treeId.toString('hex').slice(0, 16)}`, err.message, err);
    throw err;
  }
}

export function decodeListing(plaintext: Buffer): BrowseEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new FormatViolation('tree is not valid JSON');
  }
  const nodes = typeof raw === 'object' && raw !== null ? (raw as { nodes?: unknown }).nodes : undefined;
  if (!Array.isArray(nodes)) throw new FormatViolation('tree has unexpected content: no list of entries');
  return nodes.map((entry: unknown, index) => {
    try {
      return listingEntry(entry);
    } catch (err) {
      if (err instanceof FormatViolation) throw new FormatViolation(`tree has unexpected content: entry ${index}: ${err.message}`);
      throw err;
    }
  });
}

function listingEntry(value: unknown): BrowseEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FormatViolation('not an object');
  const entry = value as Record<string, unknown>;
  const type = entry.type;
  if (typeof type !== 'string' || !NODE_TYPES.has(type)) throw new FormatViolation('unknown type');
  const name = shownBytes(entry, 'name');
  if (name === undefined) throw new FormatViolation('no name');
  const mtimeNs = entry.mtimeNs;
  if (typeof mtimeNs !== 'string' || !DECIMAL.test(mtimeNs)) throw new FormatViolation('mtimeNs is not a decimal number');
  const size = entry.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new FormatViolation('size is not a whole number');
  const linkTarget = shownBytes(entry, 'linkTarget');
  const xattrs = entry.xattrs;
  if (xattrs !== undefined && (!Array.isArray(xattrs) || xattrs.some((x) => typeof (x as { name?: unknown })?.name !== 'string'))) throw new FormatViolation('xattrs is not a list of attributes');
  // Assigned one by one, not spread from small objects: a third of this function's time went to those.
  const mtime = new Date(millisecondsOf(mtimeNs)).toISOString();
  const shown: { -readonly [K in keyof BrowseEntry]: BrowseEntry[K] } = type === 'file' ? { name, type, size, mtime } : { name, type, mtime };
  if (linkTarget !== undefined) shown.linkTarget = linkTarget;
  if (xattrs !== undefined) shown.xattrs = (xattrs as { name: string }[]).map((x) => x.name);
  return shown;
}

/** Nanoseconds (a decimal string) to whole milliseconds, toward zero as BigInt division rounds: the digits but the last six. */
function millisecondsOf(nanoseconds: string): number {
  const whole = nanoseconds.slice(0, -6);
  return whole === '' || whole === '-' ? 0 : Number(whole);
}

/** A name or link target as a person reads it: stored as text (`key`) or as base64 bytes (`key`B64). */
function shownBytes(entry: Record<string, unknown>, key: string): string | undefined {
  const text = entry[key];
  if (typeof text === 'string') return PLAIN_NAME.test(text) ? text : displayName(Buffer.from(text, 'utf8'));
  if (text !== undefined) throw new FormatViolation(`${key} is not a string`);
  const b64 = entry[`${key}B64`];
  if (b64 === undefined) return undefined;
  if (typeof b64 !== 'string' || !BASE64.test(b64)) throw new FormatViolation(`${key}B64 is not base64`);
  return displayName(Buffer.from(b64, 'base64'));
}
