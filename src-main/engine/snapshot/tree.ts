import { isAscii } from 'node:buffer';
import { FormatViolation } from '../repository/packFormat.js';
import type { FileFlags } from '../metadata/fileFlags.js';
import { decodeCanonicalTree, decodeLocatedEntry, type LocatedEntries } from './canonicalTree.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';

/**
 * One directory entry in a snapshot. Names and symlink targets are raw bytes:
 * file systems allow any byte but '/' and NUL, and a restore must give back
 * exactly the name that was saved, UTF-8 or not.
 */
export interface TreeNode {
  readonly name: Buffer;
  readonly type: NodeType;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
  /** Status-change time, used only to notice changed files on the next backup. */
  readonly ctimeNs: bigint;
  /** Regular files: their size; everything else: 0. */
  readonly size: number;
  /** Regular files: the ids of their chunks, in order. */
  readonly content?: readonly Buffer[];
  /** Directories: the id of their tree blob. */
  readonly subtree?: Buffer;
  readonly linkTarget?: Buffer;
  /** Set when a file has more than one hard link, so restore can link the copies again. */
  readonly inode?: bigint;
  readonly device?: bigint;
  readonly links?: number;
  /** Device files: the device number. */
  readonly rdev?: bigint;
  /** Extended attributes (POSIX ACLs among them), sorted by name; absent when the entry has none. */
  readonly xattrs?: readonly TreeXattr[];
  /** File flags (chattr on Linux, chflags on macOS and BSD); absent when it has none that can be set. */
  readonly flags?: FileFlags;
  /** Creation time, where the file system records one (statx's btime on Linux). */
  readonly birthtimeNs?: bigint;
}

/**
 * One extended attribute: its value inline, or, when large, the id of the data blob holding it (so a
 * big value, a macOS resource fork say, is deduplicated and does not bloat its folder's tree).
 */
export interface TreeXattr {
  readonly name: string;
  readonly value?: Buffer;
  readonly blob?: Buffer;
}

export const NODE_TYPES: ReadonlySet<string> = new Set<NodeType>(['file', 'dir', 'symlink', 'fifo', 'socket', 'chardev', 'blockdev']);
const HEX_ID = /^[0-9a-f]{64}$/;
const DECIMAL = /^-?\d{1,30}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes as a JSON string when they are UTF-8 that round-trips exactly, else base64 under the `…B64` key. */
function putBytes(out: Record<string, unknown>, bytes: Buffer, key: string): void {
  // ASCII always round-trips; only other bytes need the encode-and-compare check.
  if (isAscii(bytes)) {
    out[key] = bytes.toString('latin1');
    return;
  }
  const text = bytes.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(bytes)) out[key] = text;
  else out[`${key}B64`] = bytes.toString('base64');
}

/**
 * The bytes each entry had in a tree read by decodeTreeForReuse, by its node: encodeTree writes them
 * again for a node it is given as read, instead of encoding it anew. Only trees in encodeTree's own
 * layout are noted (decodeCanonicalTree), so the bytes are the ones encodeNode would give. A backup
 * with 1% of the linux tree's files changed writes ~1,000 folders' trees, ~42,000 entries, most of
 * them files taken unchanged from the parent snapshot (see Backup.unchangedFile).
 */
const entryBytes = new WeakMap<TreeNode, Uint8Array>();

/** decodeTree, noting each entry's bytes for encodeTree (see entryBytes); for a tree whose entries may be written again. */
export function decodeTreeForReuse(plaintext: Buffer): TreeNode[] {
  return decodeCanonicalTree(plaintext, entryBytes) ?? decodeAnyTree(plaintext);
}

const TREE_START = Buffer.from('{"nodes":[');
const TREE_END = Buffer.from(']}');
const COMMA = 0x2c;

/** Serialises a directory's entries, sorted by name bytes, as the plaintext of a tree blob. */
export function encodeTree(nodes: readonly TreeNode[]): Buffer {
  const sorted = [...nodes].sort((a, b) => Buffer.compare(a.name, b.name));
  if (!sorted.some((node) => entryBytes.has(node))) return Buffer.from(JSON.stringify({ nodes: sorted.map(encodeNode) }), 'utf8');
  return encodeTreeInOrder(sorted);
}

/**
 * encodeTree for entries already in name order, each a node or the bytes of an entry taken as it is
 * from a tree in encodeTree's layout (LocatedEntries). Nodes read before (decodeTreeForReuse,
 * decodeLocatedForReuse) are written as they were, the others encoded a run at a time.
 */
export function encodeTreeInOrder(entries: readonly (TreeNode | Uint8Array)[]): Buffer {
  const parts: Uint8Array[] = [];
  let run: TreeNode[] = [];
  const endRun = () => {
    if (run.length === 0) return;
    // "[a,b]" without its brackets.
    const text = JSON.stringify(run.map(encodeNode));
    parts.push(Buffer.from(text.slice(1, -1), 'utf8'));
    run = [];
  };
  for (const entry of entries) {
    const bytes = entry instanceof Uint8Array ? entry : entryBytes.get(entry);
    if (!bytes) {
      run.push(entry as TreeNode);
      continue;
    }
    endRun();
    parts.push(bytes);
  }
  endRun();
  let length = TREE_START.length + TREE_END.length + Math.max(0, parts.length - 1);
  for (const part of parts) length += part.length;
  const tree = Buffer.allocUnsafe(length);
  tree.set(TREE_START, 0);
  let at = TREE_START.length;
  for (const [index, part] of parts.entries()) {
    if (index > 0) tree[at++] = COMMA;
    tree.set(part, at);
    at += part.length;
  }
  tree.set(TREE_END, at);
  return tree;
}

/** Located entry j read into a node whose bytes encodeTree writes again as they are (see entryBytes); undefined when not in the layout. */
export function decodeLocatedForReuse(located: LocatedEntries, j: number): TreeNode | undefined {
  return decodeLocatedEntry(located, j, entryBytes);
}

/**
 * One entry as JSON. Properties are assigned one by one rather than spread from small objects (a
 * tenth of a no-change backup's main thread went to those objects); the insertion order, which is
 * the serialised order and so part of the tree's id, is the format's: name, type, mode, uid, gid,
 * mtimeNs, ctimeNs, size, content, subtree, linkTarget, inode, device, links, rdev, xattrs, flags,
 * birthtimeNs (optional fields added later: trees without them are the ones saved before, and read the same).
 */
function encodeNode(node: TreeNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  putBytes(out, node.name, 'name');
  out.type = node.type;
  out.mode = node.mode;
  out.uid = node.uid;
  out.gid = node.gid;
  out.mtimeNs = node.mtimeNs.toString();
  out.ctimeNs = node.ctimeNs.toString();
  out.size = node.size;
  if (node.content) out.content = node.content.map((id) => id.toString('hex'));
  if (node.subtree) out.subtree = node.subtree.toString('hex');
  if (node.linkTarget) putBytes(out, node.linkTarget, 'linkTarget');
  if (node.inode !== undefined) out.inode = node.inode.toString();
  if (node.device !== undefined) out.device = node.device.toString();
  if (node.links !== undefined) out.links = node.links;
  if (node.rdev !== undefined) out.rdev = node.rdev.toString();
  if (node.xattrs) out.xattrs = node.xattrs.map(encodeXattr);
  // {"linux": 16}: whose flags they are, with their value.
  if (node.flags) out.flags = { [node.flags.system]: node.flags.value };
  if (node.birthtimeNs !== undefined) out.birthtimeNs = node.birthtimeNs.toString();
  return out;
}

function encodeXattr(xattr: TreeXattr): Record<string, string> {
  return xattr.blob ? { name: xattr.name, blob: xattr.blob.toString('hex') } : { name: xattr.name, value: (xattr.value as Buffer).toString('base64') };
}

const NO_BLOBS: readonly Buffer[] = [];

/** The data blobs an entry refers to: its content's chunks, then the values of large extended attributes. */
export function dataBlobsOf(node: TreeNode): readonly Buffer[] {
  // The content itself where there is nothing to add: a copy per entry was garbage in every walk.
  if (!node.xattrs) return node.content ?? NO_BLOBS;
  const blobs = node.content ? [...node.content] : [];
  for (const xattr of node.xattrs ?? []) if (xattr.blob) blobs.push(xattr.blob);
  return blobs;
}

/**
 * Whether two entries serialise to the same bytes: every field `encodeNode` writes is equal. A folder
 * whose entries all match those of its tree in the parent snapshot keeps that tree's id, without
 * being encoded and hashed again.
 */
export function sameNode(a: TreeNode, b: TreeNode): boolean {
  return (
    a === b ||
    (a.type === b.type &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.size === b.size &&
    a.inode === b.inode &&
    a.device === b.device &&
    a.links === b.links &&
    a.rdev === b.rdev &&
    a.birthtimeNs === b.birthtimeNs &&
    a.name.equals(b.name) &&
    sameBytes(a.subtree, b.subtree) &&
    sameBytes(a.linkTarget, b.linkTarget) &&
    sameIds(a.content, b.content) &&
    sameXattrs(a.xattrs, b.xattrs) &&
    sameFlags(a.flags, b.flags))
  );
}

export function sameXattrs(a: readonly TreeXattr[] | undefined, b: readonly TreeXattr[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i] as TreeXattr;
    return x.name === y.name && sameBytes(x.value, y.value) && sameBytes(x.blob, y.blob);
  });
}

export function sameFlags(a: FileFlags | undefined, b: FileFlags | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.system === b.system && a.value === b.value);
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

function sameIds(a: readonly Buffer[] | undefined, b: readonly Buffer[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((id, i) => id.equals(b[i] as Buffer));
}

/**
 * Parses a tree blob. Its shape is checked here (types, ids, required fields
 * per type); whether its names are safe to create on disk is the restorer's
 * decision, so one bad name does not hide the rest of a directory.
 *
 * Checked by hand in one pass rather than with a valibot schema: a backup decodes every tree of its
 * parent snapshot, and the schema made the decode of a 13-entry tree take 39 µs instead of 26 (of
 * which JSON.parse is 9).
 */
export function decodeTree(plaintext: Buffer): TreeNode[] {
  return decodeCanonicalTree(plaintext) ?? decodeAnyTree(plaintext);
}

/** decodeTree for any layout JSON allows: the keys in any order, escapes, names that are not ASCII, extended attributes. */
export function decodeAnyTree(plaintext: Buffer): TreeNode[] {
  let raw: unknown;
  try {
    raw = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new FormatViolation('tree is not valid JSON');
  }
  const nodes = isRecord(raw) ? raw.nodes : undefined;
  if (!Array.isArray(nodes)) throw new FormatViolation('tree has unexpected content: no list of entries');
  return nodes.map((entry: unknown, index) => {
    try {
      return decodeNode(entry);
    } catch (err) {
      if (err instanceof FormatViolation) throw new FormatViolation(`tree has unexpected content: entry ${index}: ${err.message}`);
      throw err;
    }
  });
}

function decodeNode(entry: unknown): TreeNode {
  if (!isRecord(entry)) throw new FormatViolation('not an object');
  const type = entry.type;
  if (typeof type !== 'string' || !NODE_TYPES.has(type)) throw new FormatViolation('unknown type');
  const name = bytesField(entry, 'name');
  if (!name) throw new FormatViolation('no name');
  const mode = uintField(entry, 'mode');
  if (mode > 0o7777) throw new FormatViolation('mode out of range');
  const node: { -readonly [K in keyof TreeNode]: TreeNode[K] } = {
    name,
    type: type as NodeType,
    mode,
    uid: uintField(entry, 'uid'),
    gid: uintField(entry, 'gid'),
    mtimeNs: decimalField(entry, 'mtimeNs'),
    ctimeNs: decimalField(entry, 'ctimeNs'),
    size: uintField(entry, 'size'),
  };
  if (entry.content !== undefined) {
    if (!Array.isArray(entry.content)) throw new FormatViolation('content is not a list');
    node.content = entry.content.map((id: unknown) => idFrom(id, 'content'));
  }
  if (entry.subtree !== undefined) node.subtree = idFrom(entry.subtree, 'subtree');
  const linkTarget = bytesField(entry, 'linkTarget');
  if (entry.inode !== undefined) node.inode = decimalField(entry, 'inode');
  if (entry.device !== undefined) node.device = decimalField(entry, 'device');
  if (entry.links !== undefined) node.links = uintField(entry, 'links');
  if (entry.rdev !== undefined) node.rdev = decimalField(entry, 'rdev');
  if (entry.xattrs !== undefined) node.xattrs = xattrsField(entry.xattrs);
  if (entry.flags !== undefined) node.flags = flagsField(entry.flags);
  if (entry.birthtimeNs !== undefined) node.birthtimeNs = decimalField(entry, 'birthtimeNs');
  if (type === 'dir' && !node.subtree) throw new FormatViolation('directory entry without a subtree');
  if (type === 'file' && !node.content) throw new FormatViolation('file entry without content');
  if (type === 'symlink') {
    if (!linkTarget) throw new FormatViolation('symlink without a target');
    node.linkTarget = linkTarget;
  }
  return node;
}

function xattrsField(value: unknown): TreeXattr[] {
  if (!Array.isArray(value) || value.length === 0) throw new FormatViolation('xattrs is not a list of attributes');
  return value.map((xattr: unknown) => {
    if (!isRecord(xattr) || typeof xattr.name !== 'string' || xattr.name === '' || xattr.name.includes('\0')) throw new FormatViolation('an extended attribute has no valid name');
    if (xattr.blob !== undefined) return { name: xattr.name, blob: idFrom(xattr.blob, 'an extended attribute') };
    if (typeof xattr.value !== 'string' || !BASE64.test(xattr.value)) throw new FormatViolation('an extended attribute value is not base64');
    return { name: xattr.name, value: Buffer.from(xattr.value, 'base64') };
  });
}

function flagsField(value: unknown): FileFlags {
  const systems = isRecord(value) ? Object.keys(value) : [];
  const system = systems[0];
  if (systems.length !== 1 || (system !== 'linux' && system !== 'bsd')) throw new FormatViolation('flags name no known system');
  const flags = (value as Record<string, unknown>)[system];
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags <= 0 || flags > 0xffffffff) throw new FormatViolation('flags are not a 32-bit number');
  return { system, value: flags };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bytes stored under `key` as text, or under `key`B64 as base64 (see putBytes). */
function bytesField(entry: Record<string, unknown>, key: string): Buffer | undefined {
  const text = entry[key];
  const b64 = entry[`${key}B64`];
  if (text !== undefined && typeof text !== 'string') throw new FormatViolation(`${key} is not a string`);
  if (b64 !== undefined && (typeof b64 !== 'string' || !BASE64.test(b64))) throw new FormatViolation(`${key}B64 is not base64`);
  if (text !== undefined) return Buffer.from(text, 'utf8');
  if (b64 !== undefined) return Buffer.from(b64, 'base64');
  return undefined;
}

function uintField(entry: Record<string, unknown>, key: string): number {
  const value = entry[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new FormatViolation(`${key} is not a whole number`);
  return value;
}

function decimalField(entry: Record<string, unknown>, key: string): bigint {
  const value = entry[key];
  if (typeof value !== 'string' || !DECIMAL.test(value)) throw new FormatViolation(`${key} is not a decimal number`);
  return BigInt(value);
}

function idFrom(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !HEX_ID.test(value)) throw new FormatViolation(`${what} is not a 64-digit hex id`);
  return Buffer.from(value, 'hex');
}

/** A printable form of a raw name: UTF-8 where valid, with control characters and invalid bytes escaped. */
export function displayName(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  const exact = Buffer.from(text, 'utf8').equals(bytes);
  const source = exact ? text : bytes.toString('latin1');
  let out = '';
  for (const ch of source) {
    const code = ch.codePointAt(0) as number;
    if (code < 0x20 || code === 0x7f || (!exact && code >= 0x80)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (ch === '\\') out += '\\\\';
    else out += ch;
  }
  return out;
}
