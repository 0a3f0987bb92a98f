import { isAscii } from 'node:buffer';
import * as v from 'valibot';
import { FormatViolation } from '../repository/packFormat.js';

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
}

const NODE_TYPES = ['file', 'dir', 'symlink', 'fifo', 'socket', 'chardev', 'blockdev'] as const;
const hexId = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
const decimal = v.pipe(v.string(), v.regex(/^-?\d{1,30}$/));
const uint = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const base64 = v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]*={0,2}$/));

const NODE_SCHEMA = v.object({
  name: v.optional(v.string()),
  nameB64: v.optional(base64),
  type: v.picklist(NODE_TYPES),
  mode: v.pipe(uint, v.maxValue(0o7777)),
  uid: uint,
  gid: uint,
  mtimeNs: decimal,
  ctimeNs: decimal,
  size: uint,
  content: v.optional(v.array(hexId)),
  subtree: v.optional(hexId),
  linkTarget: v.optional(v.string()),
  linkTargetB64: v.optional(base64),
  inode: v.optional(decimal),
  device: v.optional(decimal),
  links: v.optional(uint),
  rdev: v.optional(decimal),
});

const TREE_SCHEMA = v.object({ nodes: v.array(NODE_SCHEMA) });

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

function decodeBytes(text: string | undefined, b64: string | undefined): Buffer | undefined {
  if (text !== undefined) return Buffer.from(text, 'utf8');
  if (b64 !== undefined) return Buffer.from(b64, 'base64');
  return undefined;
}

/** Serialises a directory's entries, sorted by name bytes, as the plaintext of a tree blob. */
export function encodeTree(nodes: readonly TreeNode[]): Buffer {
  const sorted = [...nodes].sort((a, b) => Buffer.compare(a.name, b.name));
  return Buffer.from(JSON.stringify({ nodes: sorted.map(encodeNode) }), 'utf8');
}

/**
 * One entry as JSON. Properties are assigned one by one rather than spread from small objects (a
 * tenth of a no-change backup's main thread went to those objects); the insertion order, which is
 * the serialised order and so part of the tree's id, is the format's: name, type, mode, uid, gid,
 * mtimeNs, ctimeNs, size, content, subtree, linkTarget, inode, device, links, rdev.
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
  return out;
}

/**
 * Whether two entries serialise to the same bytes: every field `encodeNode` writes is equal. A folder
 * whose entries all match those of its tree in the parent snapshot keeps that tree's id, without
 * being encoded and hashed again.
 */
export function sameNode(a: TreeNode, b: TreeNode): boolean {
  return (
    a.type === b.type &&
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
    a.name.equals(b.name) &&
    sameBytes(a.subtree, b.subtree) &&
    sameBytes(a.linkTarget, b.linkTarget) &&
    sameIds(a.content, b.content)
  );
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
 */
export function decodeTree(plaintext: Buffer): TreeNode[] {
  let raw: unknown;
  try {
    raw = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new FormatViolation('tree is not valid JSON');
  }
  const parsed = v.safeParse(TREE_SCHEMA, raw);
  if (!parsed.success) throw new FormatViolation(`tree has unexpected content: ${v.summarize(parsed.issues).split('\n')[0]}`);
  return parsed.output.nodes.map((n) => {
    const name = decodeBytes(n.name, n.nameB64);
    if (!name) throw new FormatViolation('tree entry without a name');
    if (n.type === 'dir' && !n.subtree) throw new FormatViolation('directory entry without a subtree');
    if (n.type === 'file' && !n.content) throw new FormatViolation('file entry without content');
    if (n.type === 'symlink' && n.linkTarget === undefined && n.linkTargetB64 === undefined) throw new FormatViolation('symlink without a target');
    const node: TreeNode = {
      name,
      type: n.type,
      mode: n.mode,
      uid: n.uid,
      gid: n.gid,
      mtimeNs: BigInt(n.mtimeNs),
      ctimeNs: BigInt(n.ctimeNs),
      size: n.size,
      ...(n.content ? { content: n.content.map((id) => Buffer.from(id, 'hex')) } : {}),
      ...(n.subtree ? { subtree: Buffer.from(n.subtree, 'hex') } : {}),
      ...(n.type === 'symlink' ? { linkTarget: decodeBytes(n.linkTarget, n.linkTargetB64) as Buffer } : {}),
      ...(n.inode !== undefined ? { inode: BigInt(n.inode) } : {}),
      ...(n.device !== undefined ? { device: BigInt(n.device) } : {}),
      ...(n.links !== undefined ? { links: n.links } : {}),
      ...(n.rdev !== undefined ? { rdev: BigInt(n.rdev) } : {}),
    };
    return node;
  });
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
