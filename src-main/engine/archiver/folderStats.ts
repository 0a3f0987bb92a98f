import { lstatSync } from 'node:fs';
import { nativeAddon } from '../nativeAddon.js';
import { childPath } from './childPath.js';
import { packStat, packedStatsLength } from './entryStat.js';

/** The names of a folder's entries, concatenated, and where each ends. */
export interface JoinedNames {
  readonly joined: Buffer;
  readonly ends: Uint32Array;
}

export function joinNames(names: readonly Buffer[]): JoinedNames {
  const ends = new Uint32Array(names.length);
  let length = 0;
  for (const [i, name] of names.entries()) {
    length += name.length;
    ends[i] = length;
  }
  return { joined: Buffer.concat(names, length), ends };
}

/**
 * The lstat of every entry `names` lists in `folder`, packed (entryStat.ts); each entry's failure, the
 * error Node's lstat throws, in `errors`. Through the addon's lstatAt where it is built: one call for
 * the folder, no object per entry, each path resolved from the open folder rather than from the root.
 * A no-change backup of a 78,579-file tree: the listing thread's 1.27 CPU-seconds, 35% of them in
 * statx and its path walk, the rest in lstatSync's objects and BigInts.
 */
export function lstatEntries(folder: Buffer, names: readonly Buffer[], { joined, ends }: JoinedNames, scratch?: StatScratch): { stats: BigInt64Array; errors: (Error | undefined)[] } {
  const { stats, errnos } = scratch?.take(names.length) ?? { stats: new BigInt64Array(packedStatsLength(names.length)), errnos: new Int32Array(names.length) };
  // Where it is not built, or cannot open the folder: one lstat per entry.
  const statted = (nativeAddon()?.lstatAt?.(folder, joined, ends, stats, errnos) ?? -1) === 0;
  const errors = new Array<Error | undefined>(names.length);
  for (const [i, name] of names.entries()) {
    if (statted && errnos[i] === 0) continue;
    // Also after the addon's failure for this entry: Node's own error, with its code and words.
    try {
      packStat(lstatSync(childPath(folder, name), { bigint: true }), stats, i);
    } catch (err) {
      errors[i] = err as Error;
    }
  }
  return { stats, errors };
}

/**
 * Arrays for lstatEntries to fill again and again, for a caller done with one folder's stats before it
 * lists the next (scanSources): 88 KB a thousand entries, not made and collected for every folder.
 */
export class StatScratch {
  private stats = new BigInt64Array(0);
  private errnos = new Int32Array(0);

  /** Views of the arrays for `entries` entries, valid until the next call. */
  take(entries: number): { stats: BigInt64Array; errnos: Int32Array } {
    if (this.errnos.length < entries) {
      const room = Math.max(entries, 2 * this.errnos.length);
      this.stats = new BigInt64Array(packedStatsLength(room));
      this.errnos = new Int32Array(room);
    }
    return { stats: this.stats.subarray(0, packedStatsLength(entries)), errnos: this.errnos.subarray(0, entries) };
  }
}
