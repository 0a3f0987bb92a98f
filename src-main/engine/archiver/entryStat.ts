import type { BigIntStats } from 'node:fs';
import { constants } from 'node:fs';
import { endianness } from 'node:os';
import type { Xattr } from '../metadata/xattrs.js';
import type { FileFlags } from '../metadata/fileFlags.js';

/**
 * What a backup reads of an entry's lstat: a real BigIntStats, or one packed by the folder lister.
 * `xattrsRead`: its extended attributes were read alongside, and are `xattrs` (absent: it has none).
 * `flagsRead`: if it is a folder, its file flags were read alongside, and are `flags` (a file's come with its content).
 */
export type EntryStat = Pick<
  BigIntStats,
  'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'mtimeNs' | 'ctimeNs' | 'birthtimeNs' | 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isSocket' | 'isCharacterDevice'
> & { readonly xattrsRead?: boolean; readonly xattrs?: readonly Xattr[]; readonly flagsRead?: boolean; readonly flags?: FileFlags };

/** The fields packed per entry, in this order, into a BigInt64Array. */
export const STAT_FIELDS = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'mtimeNs', 'ctimeNs', 'birthtimeNs'] as const;
const FIELDS = STAT_FIELDS.length;

export function packStat(stat: BigIntStats, into: BigInt64Array, index: number): void {
  for (const [i, field] of STAT_FIELDS.entries()) into[index * FIELDS + i] = stat[field];
}

/** An lstat result read back from the packed array (no object per field until one is asked for). */
export class PackedStat implements EntryStat {
  xattrs?: readonly Xattr[];
  flags?: FileFlags;

  constructor(
    private readonly fields: BigInt64Array,
    private readonly at: number,
    readonly xattrsRead = false,
    readonly flagsRead = false,
  ) {}

  static at(fields: BigInt64Array, index: number, xattrsRead = false, flagsRead = false): PackedStat {
    return new PackedStat(fields, index * FIELDS, xattrsRead, flagsRead);
  }

  private field(i: number): bigint {
    return this.fields[this.at + i] as bigint;
  }

  get dev(): bigint {
    return this.field(0);
  }
  get ino(): bigint {
    return this.field(1);
  }
  get mode(): bigint {
    return this.field(2);
  }
  get nlink(): bigint {
    return this.field(3);
  }
  get uid(): bigint {
    return this.field(4);
  }
  get gid(): bigint {
    return this.field(5);
  }
  get rdev(): bigint {
    return this.field(6);
  }
  get size(): bigint {
    return this.field(7);
  }
  get mtimeNs(): bigint {
    return this.field(8);
  }
  get ctimeNs(): bigint {
    return this.field(9);
  }
  get birthtimeNs(): bigint {
    return this.field(10);
  }

  private is(type: number): boolean {
    return (Number(this.field(2)) & constants.S_IFMT) === type;
  }
  isFile(): boolean {
    return this.is(constants.S_IFREG);
  }
  isDirectory(): boolean {
    return this.is(constants.S_IFDIR);
  }
  isSymbolicLink(): boolean {
    return this.is(constants.S_IFLNK);
  }
  isFIFO(): boolean {
    return this.is(constants.S_IFIFO);
  }
  isSocket(): boolean {
    return this.is(constants.S_IFSOCK);
  }
  isCharacterDevice(): boolean {
    return this.is(constants.S_IFCHR);
  }
}

export function packedStatsLength(entries: number): number {
  return entries * FIELDS;
}

/** Words (32-bit) per packed entry. */
const WORDS = 2 * FIELDS;
const S_IFMT = constants.S_IFMT;
const S_IFREG = constants.S_IFREG;
/** Which word of a packed field is its low half. */
const LOW = endianness() === 'LE' ? 0 : 1;
const MODE_LOW = 2 * 2 + LOW;
const SIZE_LOW = 2 * 7 + LOW;
const SIZE_HIGH = 2 * 7 + 1 - LOW;

/** The packed fields as 32-bit words, for packedSize. */
export function packedWords(fields: BigInt64Array): Uint32Array {
  return new Uint32Array(fields.buffer, fields.byteOffset, fields.length * 2);
}

/** The size of packed entry `index` (`words` from packedWords), without a BigInt. */
export function packedSize(words: Uint32Array, index: number): number {
  const at = index * WORDS;
  return (words[at + SIZE_LOW] as number) + (words[at + SIZE_HIGH] as number) * 2 ** 32;
}

/**
 * A 64-bit stamp of each regular file's packed lstat fields (every field but atime), as two words per
 * entry; [0, 0] for every other entry and for those `failed` (no lstat). Equal stamps are taken as
 * equal fields: a backup takes a file's entry from the parent snapshot's tree as it is when its stamp
 * is the one recorded for that entry (see FolderRecord.stamps). Two 32-bit murmur3 lanes with
 * different seeds over the 22 words, each finalised; a change of any field gives another stamp but
 * with odds of 2^-64 — no weaker a test than restic's, which compares times, size and inode alone.
 */
export function statStamps(fields: BigInt64Array, count: number, failed: (index: number) => boolean): Uint32Array {
  const words = new Int32Array(fields.buffer, fields.byteOffset, count * WORDS);
  const stamps = new Uint32Array(2 * count);
  for (let index = 0; index < count; index += 1) {
    const at = index * WORDS;
    // The mode's low word holds the type bits.
    if (((words[at + MODE_LOW] as number) & S_IFMT) !== S_IFREG || failed(index)) continue;
    let a = 0x9747b28c;
    let b = 0x5bd1e995;
    for (let word = at; word < at + WORDS; word += 1) {
      const w = words[word] as number;
      a = mix(a, w);
      b = mix(b, w ^ 0x3c6ef372);
    }
    a = finish(a ^ WORDS);
    b = finish(b ^ a);
    // [0, 0] means "no stamp".
    stamps[2 * index] = a === 0 && b === 0 ? 1 : a;
    stamps[2 * index + 1] = b;
  }
  return stamps;
}

function mix(hash: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let h = hash ^ k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
