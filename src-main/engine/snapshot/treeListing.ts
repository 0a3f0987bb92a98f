import type { FolderEntry } from '../../../src-shared/folderPage.js';
import { FormatViolation } from '../repository/packFormat.js';
import type { Repository } from '../repository/repository.js';
import { damaged } from '../repository/repositoryError.js';
import { JsonCursor, JsonSyntaxError, type TextReader } from './jsonCursor.js';
import { NODE_TYPES, displayName } from './tree.js';

/** Names that show as they are: printable ASCII without a backslash (displayName escapes the rest). */
const PLAIN_NAME = /^[\x20-\x5b\x5d-\x7e]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A folder's entries as a listing shows them (name, type, size, time, link target, attribute names),
 * read straight from the tree's JSON text, times as milliseconds (written out only for the entries
 * shown). decodeTree makes every entry whole, with a Buffer per name and chunk id and a BigInt per time
 * and inode; even JSON.parse alone makes every field of every entry, and for a 50,000-entry folder
 * (a 12 MB tree) the garbage collector then took longer than the parse. Only the fields read are
 * checked here; restore and check decode the full entries and check the rest.
 */
export async function loadListing(repository: Repository, treeId: Buffer): Promise<FolderEntry[]> {
  try {
    try {
      // A window at a time: a 15 MB tree is decompressed into the same 256 KiB, not into 15 MB of fresh memory.
      return await repository.readBlob(treeId, (reader) => decodeListingFrom(reader, 256 * 1024));
    } catch (err) {
      // Text a window cannot hold outside the list of entries (no tree Hindsight writes has any), or JSON
      // that is not: read whole, where a fault is a fault.
      if (!(err instanceof JsonSyntaxError)) throw err;
      return decodeListing(await repository.loadBlob(treeId));
    }
  } catch (err) {
    if (err instanceof FormatViolation) throw damaged(`Tree ${treeId.toString('hex').slice(0, 16)}`, err.message, err);
    throw err;
  }
}

export function decodeListing(plaintext: Buffer): FolderEntry[] {
  return listEntries(new JsonCursor(plaintext));
}

/** The same as decodeListing, from text given a part at a time, read through a window of `windowBytes` (larger when an entry needs it). */
export function decodeListingFrom(reader: TextReader, windowBytes: number): FolderEntry[] {
  return listEntries(JsonCursor.reading(reader, windowBytes));
}

/** Space left after an entry below which the window moves on: enough for the "]}" that ends a tree. */
const MARGIN = 64;

function listEntries(cursor: JsonCursor): FolderEntry[] {
  let entries: FolderEntry[] | undefined;
  if (cursor.peek() !== 0x7b) cursor.skip();
  else
    cursor.object(() => {
      if (!cursor.keyIs('nodes')) return cursor.skip();
      // The last "nodes" counts, as in JSON.parse.
      entries = undefined;
      if (cursor.peek() !== 0x5b) return cursor.skip();
      const listed: FolderEntry[] = [];
      const reader = new EntryReader(cursor);
      cursor.array((index) => {
        let start = cursor.position;
        for (;;) {
          try {
            listed.push(reader.read());
            break;
          } catch (err) {
            // An entry cut off by the end of the window is read again from its start, with more of the tree.
            if (err instanceof JsonSyntaxError && cursor.retryFrom(start)) {
              start = cursor.position;
              continue;
            }
            if (err instanceof FormatViolation && !(err instanceof JsonSyntaxError)) throw new FormatViolation(`tree has unexpected content: entry ${index}: ${err.message}`);
            throw err;
          }
        }
        if (cursor.nearEnd(MARGIN)) cursor.more(cursor.position);
      });
      entries = listed;
    });
  cursor.end();
  if (!entries) throw new FormatViolation('tree has unexpected content: no list of entries');
  return entries;
}

/** A value that was there but not a string (or, for the type and time, not one of the values allowed). */
const INVALID = Symbol('invalid');
type Text = string | typeof INVALID | undefined;

const TYPE_NAMES = [...NODE_TYPES];

/**
 * Reads entries one after another into one set of fields, with one function (`member`) for their keys,
 * instead of a closure and its variables per entry: 50,000 of each were garbage, and in an agent that
 * has just started this code runs before V8 optimises it, where each call and allocation counts.
 */
class EntryReader {
  private type: Text;
  private name: Text;
  private nameB64: Text;
  private linkTarget: Text;
  private linkTargetB64: Text;
  private mtimeMs: number | typeof INVALID | undefined;
  private size: unknown;
  private xattrs: unknown;

  constructor(private readonly cursor: JsonCursor) {}

  private readonly member = (): void => {
    const cursor = this.cursor;
    // Keys told apart by length first: an entry has a dozen, most of them skipped.
    switch (cursor.keyLength) {
      case 4:
        if (cursor.keyIs('name')) return void (this.name = shownText(cursor));
        if (cursor.keyIs('type')) return void (this.type = cursor.oneOf(TYPE_NAMES) ?? INVALID);
        if (cursor.keyIs('size')) return void (this.size = cursor.number() ?? INVALID);
        break;
      case 7:
        // Nanoseconds as a decimal string, kept as whole milliseconds (toward zero, as BigInt division rounds).
        if (cursor.keyIs('mtimeNs')) return void (this.mtimeMs = cursor.decimalString(6) ?? INVALID);
        if (cursor.keyIs('nameB64')) return void (this.nameB64 = cursor.string() ?? INVALID);
        break;
      case 6:
        if (cursor.keyIs('xattrs')) return void (this.xattrs = cursor.value());
        break;
      case 10:
        if (cursor.keyIs('linkTarget')) return void (this.linkTarget = shownText(cursor));
        break;
      case 13:
        if (cursor.keyIs('linkTargetB64')) return void (this.linkTargetB64 = cursor.string() ?? INVALID);
        break;
    }
    cursor.skip();
  };

  read(): FolderEntry {
    const cursor = this.cursor;
    if (cursor.peek() !== 0x7b) {
      cursor.skip();
      throw new FormatViolation('not an object');
    }
    this.type = this.name = this.nameB64 = this.linkTarget = this.linkTargetB64 = this.mtimeMs = this.size = this.xattrs = undefined;
    cursor.object(this.member);
    const { type, mtimeMs, size, xattrs } = this;
    if (typeof type !== 'string') throw new FormatViolation('unknown type');
    const shownName = shownBytes('name', this.name, this.nameB64);
    if (shownName === undefined) throw new FormatViolation('no name');
    if (typeof mtimeMs !== 'number') throw new FormatViolation('mtimeNs is not a decimal number');
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new FormatViolation('size is not a whole number');
    const shownTarget = shownBytes('linkTarget', this.linkTarget, this.linkTargetB64);
    if (xattrs !== undefined && (!Array.isArray(xattrs) || xattrs.some((x) => typeof (x as { name?: unknown })?.name !== 'string'))) throw new FormatViolation('xattrs is not a list of attributes');
    // Assigned one by one, not spread from small objects: a third of this function's time went to those.
    const shown: { -readonly [K in keyof FolderEntry]: FolderEntry[K] } = type === 'file' ? { name: shownName, type, size, mtimeMs } : { name: shownName, type, mtimeMs };
    if (shownTarget !== undefined) shown.linkTarget = shownTarget;
    if (xattrs !== undefined) shown.xattrs = (xattrs as { name: string }[]).map((x) => x.name);
    return shown;
  }
}

/** A name or link target stored as text, as a person reads it: printable ASCII without a backslash as it is, the rest escaped by displayName. */
function shownText(cursor: JsonCursor): Text {
  const text = cursor.string();
  if (text === undefined) return INVALID;
  return PLAIN_NAME.test(text) ? text : displayName(Buffer.from(text, 'utf8'));
}

/** A name or link target: stored as text (`key`) or as base64 bytes (`key`B64). */
function shownBytes(key: string, text: Text, b64: Text): string | undefined {
  if (text === INVALID) throw new FormatViolation(`${key} is not a string`);
  if (text !== undefined) return text;
  if (b64 === undefined) return undefined;
  if (b64 === INVALID || !BASE64.test(b64)) throw new FormatViolation(`${key}B64 is not base64`);
  return displayName(Buffer.from(b64, 'base64'));
}
