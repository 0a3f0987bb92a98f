import type { BigIntStats } from 'node:fs';
import { constants } from 'node:fs';
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
