import { BLOB_ID_LENGTH } from '../crypto/blobId.js';
import type { IndexedPackEntries } from './indexFile.js';
import { ENTRY_LENGTH, EntryFields, FormatViolation, type BlobType, type PackedBlob } from './packFormat.js';

export interface BlobLocation extends PackedBlob {
  /** Hex name of the pack that holds the blob. */
  readonly pack: string;
}

const INITIAL_CAPACITY = 1024;
/** Room made beyond the blobs expected, and the factor the arrays grow by when full. */
const SPARE = 1.0625;
const GROWTH = 1.5;
const FLAG_TREE = 1;
const FLAG_COMPRESSED = 2;

/**
 * Every blob the repository knows: blob id → pack, offset, lengths, type.
 *
 * Kept in flat typed arrays with an open-addressing hash table instead of a
 * Map of objects, so a million blobs cost about 60 MB (32 bytes of id, 17 of
 * location, 8 of table) rather than several hundred. Blob ids are keyed hashes,
 * so their first four bytes are already uniformly distributed and serve as
 * the hash directly.
 */
export class MemoryIndex {
  private capacity: number;
  private count = 0;
  private ids: Buffer;
  private packOf: Uint32Array;
  private offsets: Uint32Array;
  private lengths: Uint32Array;
  private rawLengths: Uint32Array;
  private flags: Uint8Array;
  /** Slots hold entry number + 1; 0 is empty. A power of two, always at most half full. */
  private table: Int32Array;
  private readonly packNames: string[] = [];
  private readonly packSizes: number[] = [];
  private readonly packNumbers = new Map<string, number>();

  /**
   * `expected`: about how many blobs it will hold (the entries of the index files about to be loaded),
   * made room for at once with some to spare for a backup's new blobs. Grown by doubling from a thousand,
   * the index of a million blobs left its 28 + 14 + 7 + … MB of outgrown arrays to the collector, which
   * let them be: ArrayBuffers outside the JavaScript heap are collected when they pass some 64 MB since
   * the last full collection, and these stayed under (a no-change backup of a million files held 130 MB of
   * them to the end, 57 MB of them the index).
   */
  constructor(expected = 0) {
    this.capacity = Math.max(INITIAL_CAPACITY, Math.ceil(expected * SPARE));
    this.ids = Buffer.alloc(this.capacity * BLOB_ID_LENGTH);
    this.packOf = new Uint32Array(this.capacity);
    this.offsets = new Uint32Array(this.capacity);
    this.lengths = new Uint32Array(this.capacity);
    this.rawLengths = new Uint32Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.table = new Int32Array(tableLengthFor(expected));
  }

  get size(): number {
    return this.count;
  }

  get packCount(): number {
    return this.packNames.length;
  }

  /** Records a pack and its blobs. A blob already known elsewhere keeps its first location. */
  addPack(packId: Buffer, packSize: number, blobs: readonly PackedBlob[]): void {
    const pack = this.packNumber(packId, packSize);
    for (const blob of blobs) {
      if (this.entryOf(blob.id) >= 0) continue;
      this.makeRoom();
      const at = this.count;
      blob.id.copy(this.ids, at * BLOB_ID_LENGTH);
      this.packOf[at] = pack;
      this.offsets[at] = blob.offset;
      this.lengths[at] = blob.length;
      this.rawLengths[at] = blob.rawLength;
      this.flags[at] = (blob.type === 'tree' ? FLAG_TREE : 0) | (blob.compressed ? FLAG_COMPRESSED : 0);
      this.count += 1;
      this.insertSlot(at);
    }
  }

  /**
   * `addPack` for a pack of an index file, reading its entries where they lie (checked as readEntry
   * checks them, and against the pack's size). An object and an id copy per blob cost every command that
   * loads the index of the linux tree's 83,350 blobs 96-102 ms (decode, then addPack; cold, with the CLI's
   * V8 flags); read in place, 34-36 ms, and 26 MB less garbage.
   */
  addEntries(entries: Buffer, pack: IndexedPackEntries): void {
    const number = this.packNumber(pack.id, pack.size);
    const fields = new EntryFields(entries);
    for (let i = 0, at = pack.start; i < pack.count; i++, at += ENTRY_LENGTH) {
      fields.check(at);
      const offset = fields.offset(at);
      const length = fields.length(at);
      if (offset + length > pack.size) throw new FormatViolation('a blob lies beyond the end of its pack');
      const idStart = fields.idStart(at);
      if (this.entryAt(entries, idStart) >= 0) continue;
      this.makeRoom();
      const entry = this.count;
      entries.copy(this.ids, entry * BLOB_ID_LENGTH, idStart, idStart + BLOB_ID_LENGTH);
      this.packOf[entry] = number;
      this.offsets[entry] = offset;
      this.lengths[entry] = length;
      this.rawLengths[entry] = fields.rawLength(at);
      this.flags[entry] = (fields.isTree(at) ? FLAG_TREE : 0) | (fields.isCompressed(at) ? FLAG_COMPRESSED : 0);
      this.count += 1;
      this.insertSlot(entry);
    }
  }

  has(id: Uint8Array): boolean {
    return this.entryOf(id) >= 0;
  }

  /** The stored length of entry number `entry`. */
  lengthOf(entry: number): number {
    return this.lengths[entry] as number;
  }

  /*
   * Entry `entry`'s fields one at a time, for callers that handle many blobs: a location object with its
   * own copy of the id per blob was most of what a restore's main thread allocated per small file.
   */

  /** The number of entry `entry`'s pack (see packName): a number to group blobs by, where its name is a string. */
  packNumberOf(entry: number): number {
    return this.packOf[entry] as number;
  }

  packName(pack: number): string {
    return this.packNames[pack] as string;
  }

  offsetOf(entry: number): number {
    return this.offsets[entry] as number;
  }

  rawLengthOf(entry: number): number {
    return this.rawLengths[entry] as number;
  }

  isCompressed(entry: number): boolean {
    return ((this.flags[entry] as number) & FLAG_COMPRESSED) !== 0;
  }

  /** Whether entry `entry`'s id is `id`. */
  idEquals(entry: number, id: Uint8Array): boolean {
    return id.byteLength === BLOB_ID_LENGTH && this.idIs(entry, id, 0);
  }

  /** Copies entry `entry`'s id into `target` from `at`. */
  copyId(entry: number, target: Uint8Array, at: number): void {
    // Byte by byte: a view to copy from (Buffer#copy makes one too) was an object per id.
    const { ids } = this;
    const from = entry * BLOB_ID_LENGTH;
    for (let i = 0; i < BLOB_ID_LENGTH; i++) target[at + i] = ids[from + i] as number;
  }

  /**
   * The entry numbers of each pack's blobs, in the order added, for every pack that has any: 4 bytes a
   * blob, where a list of locations held some 200 (an object and a copy of its id).
   */
  entriesByPack(): Map<string, Uint32Array> {
    const counts = new Uint32Array(this.packNames.length);
    for (let at = 0; at < this.count; at++) {
      const pack = this.packOf[at] as number;
      counts[pack] = (counts[pack] as number) + 1;
    }
    const lists = Array.from(counts, (count) => new Uint32Array(count));
    const filled = new Uint32Array(this.packNames.length);
    for (let at = 0; at < this.count; at++) {
      const pack = this.packOf[at] as number;
      (lists[pack] as Uint32Array)[(filled[pack] as number)++] = at;
    }
    const byPack = new Map<string, Uint32Array>();
    for (const [pack, list] of lists.entries()) if (list.length > 0) byPack.set(this.packNames[pack] as string, list);
    return byPack;
  }

  get(id: Uint8Array): BlobLocation | undefined {
    const at = this.entryOf(id);
    return at < 0 ? undefined : this.location(at);
  }

  hasPack(name: string): boolean {
    return this.packNumbers.has(name);
  }

  /** The size the index recorded for a pack; undefined for a pack it does not know. */
  packSize(name: string): number | undefined {
    const pack = this.packNumbers.get(name);
    return pack === undefined ? undefined : this.packSizes[pack];
  }

  /** Every indexed pack with the size its index recorded. */
  *packs(): IterableIterator<{ name: string; size: number }> {
    for (let i = 0; i < this.packNames.length; i++) {
      yield { name: this.packNames[i] as string, size: this.packSizes[i] as number };
    }
  }

  *blobs(): IterableIterator<BlobLocation> {
    for (let at = 0; at < this.count; at++) yield this.location(at);
  }

  /** Where entry number `at` (0 to size - 1, see entryOf) is. */
  location(at: number): BlobLocation {
    const flags = this.flags[at] as number;
    const type: BlobType = flags & FLAG_TREE ? 'tree' : 'data';
    return {
      id: Buffer.from(this.ids.subarray(at * BLOB_ID_LENGTH, (at + 1) * BLOB_ID_LENGTH)),
      pack: this.packNames[this.packOf[at] as number] as string,
      type,
      compressed: (flags & FLAG_COMPRESSED) !== 0,
      offset: this.offsets[at] as number,
      length: this.lengths[at] as number,
      rawLength: this.rawLengths[at] as number,
    };
  }

  /**
   * The blob's entry number, 0 to size - 1, or -1 when it is not indexed. Numbers stay as they are while
   * the index only grows, so a bitmap of `size` can stand for a set of indexed blobs.
   */
  entryOf(id: Uint8Array): number {
    if (id.byteLength !== BLOB_ID_LENGTH) return -1;
    return this.entryAt(id, 0);
  }

  /** entryOf for the id at `start` in `source`. */
  private entryAt(source: Uint8Array, start: number): number {
    const mask = this.table.length - 1;
    let slot = hashAt(source, start) & mask;
    for (;;) {
      const entry = this.table[slot] as number;
      if (entry === 0) return -1;
      const at = entry - 1;
      if (this.idIs(at, source, start)) return at;
      slot = (slot + 1) & mask;
    }
  }

  /**
   * Whether entry `at` is the id at `start` in `source`, compared byte by byte from past the four bytes
   * its slot came from, so another id is told apart at the first byte read. `Buffer.compare` with ranges
   * checked its four offsets in JavaScript before comparing, once per entry probed: 200,000 lookups of a
   * 200,000-blob index took ~350-410 ns each, half of it that (the index lookups were ~8% of the main
   * thread of a check --read-data of the gcc tree, perf).
   */
  private idIs(at: number, source: Uint8Array, start: number): boolean {
    const { ids } = this;
    const base = at * BLOB_ID_LENGTH;
    for (let i = 4; i < BLOB_ID_LENGTH; i++) if (ids[base + i] !== source[start + i]) return false;
    for (let i = 0; i < 4; i++) if (ids[base + i] !== source[start + i]) return false;
    return true;
  }

  private packNumber(packId: Buffer, packSize: number): number {
    const name = packId.toString('hex');
    let pack = this.packNumbers.get(name);
    if (pack === undefined) {
      pack = this.packNames.length;
      this.packNames.push(name);
      this.packSizes.push(packSize);
      this.packNumbers.set(name, pack);
    }
    return pack;
  }

  private insertSlot(at: number): void {
    const mask = this.table.length - 1;
    let slot = this.ids.readUInt32LE(at * BLOB_ID_LENGTH) & mask;
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = at + 1;
  }

  /** Room for one more entry: the arrays grown when full, the table doubled before it is more than half full. */
  private makeRoom(): void {
    if (this.count === this.capacity) this.growArrays(Math.ceil(this.capacity * GROWTH));
    if (2 * (this.count + 1) > this.table.length) {
      this.table = new Int32Array(this.table.length * 2);
      for (let at = 0; at < this.count; at++) this.insertSlot(at);
    }
  }

  private growArrays(capacity: number): void {
    const ids = Buffer.alloc(capacity * BLOB_ID_LENGTH);
    this.ids.copy(ids);
    this.ids = ids;
    this.packOf = extend(this.packOf, capacity);
    this.offsets = extend(this.offsets, capacity);
    this.lengths = extend(this.lengths, capacity);
    this.rawLengths = extend(this.rawLengths, capacity);
    const flags = new Uint8Array(capacity);
    flags.set(this.flags);
    this.flags = flags;
    this.capacity = capacity;
  }
}

/** The smallest power of two at least twice `entries` (and 2 × INITIAL_CAPACITY). */
function tableLengthFor(entries: number): number {
  let length = 2 * INITIAL_CAPACITY;
  while (length < 2 * entries) length *= 2;
  return length;
}

function hashAt(id: Uint8Array, start: number): number {
  return ((id[start] as number) | ((id[start + 1] as number) << 8) | ((id[start + 2] as number) << 16) | ((id[start + 3] as number) << 24)) >>> 0;
}

function extend(array: Uint32Array, capacity: number): Uint32Array<ArrayBuffer> {
  const grown = new Uint32Array(capacity);
  grown.set(array);
  return grown;
}
