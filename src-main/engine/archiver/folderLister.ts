import { createHash } from 'node:crypto';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { CountRequest, ErrorInfo, ListedFlags, ListedXattrs, ListerReady, ListReplies, ListReply, ListRequest, ListRequests, WalkMessage, WalkWorkerData } from '../workers/walkWorker.js';
import { workerScript } from '../workers/workerScript.js';
import { childPath } from './childPath.js';
import { listFolder } from './listFolder.js';
import { PackedStat, packedSize, packedWords, statStamps, type EntryStat } from './entryStat.js';
import type { ExcludeOptions } from './excludes.js';
import type { ScanTotals } from './scanner.js';

export interface ListedEntry {
  readonly name: Buffer;
  readonly path: Buffer;
  /** Undefined when the entry could not be examined (it vanished, or permission was denied); `error` says why. */
  readonly stat: EntryStat | undefined;
  readonly error?: ErrorInfo;
  /** Why its extended attributes could not be read (the entry is saved without them). */
  readonly xattrError?: ErrorInfo;
  /** Why its file flags could not be read (the entry is saved without them). */
  readonly flagsError?: ErrorInfo;
}

/** What to read of a folder's entries along with their lstat: extended attributes, and the flags of subfolders. */
export interface ListExtras {
  readonly xattrs: boolean;
  readonly flags: boolean;
}

/** A folder to list, and what to read with it. */
export interface FolderToList {
  readonly folder: Buffer;
  readonly extras: ListExtras;
}

/** A folder's entries sorted by name, or why the folder itself could not be read. */
export type FolderListing = ListedFolder | { readonly failed: ErrorInfo };

/**
 * A folder's entries sorted by name, made into objects only when asked for: a backup that finds the
 * folder as it was (its digest) needs only its subfolders.
 */
export interface ListedFolder {
  readonly entries: readonly ListedEntry[];
  /** Entry `index` alone. */
  entry(index: number): ListedEntry;
  /**
   * A hash of `salt` and every entry's name and lstat fields (atime aside), the same exactly when none
   * was added, removed, renamed, changed or touched; undefined when an entry could not be examined, or
   * only one entry was listed.
   */
  digest(salt: string): Buffer | undefined;
  /** How many entries were listed. */
  readonly count: number;
  /** Entry `index`'s name, without making the entry. */
  name(index: number): Buffer;
  /** Compares entry `index`'s name with `bytes[start, end)`, in Buffer.compare's order. */
  compareName(index: number, bytes: Buffer, start: number, end: number): number;
  /**
   * Each entry's stamp (statStamps: two words per entry, zeros for all but regular files) and size,
   * without making the entries; undefined for a listing that does not have them packed (listingOf).
   */
  stamps(): ListedStamps | undefined;
}

export interface ListedStamps {
  readonly stamps: Uint32Array;
  size(index: number): number;
}

/**
 * Folders listed ahead and not yet asked for, at most. Each listing asked for alone was a message to
 * the listing thread and one back, and each woke a sleeping thread (~80 µs of CPU on the poster's side
 * on this project's 2-core VMs): a no-change backup of a 78,579-file tree spent ~1 s of its main thread
 * in postMessage for 5,095 folders. Asking for a folder's subfolders in one message while its files are
 * being saved also keeps the listing thread ahead of the walk. The bound keeps the listings waiting in
 * memory bounded, however wide the tree (a listing waits packed, ~100 bytes an entry). At 64, folders
 * found no room ahead and were asked for alone when their turn came: 2,964 messages for the tree's
 * 5,096 folders in a no-change backup; at 1,024, 1,074, one per folder that has subfolders.
 */
const LISTED_AHEAD = 1024;
/**
 * Entries in listings waiting ahead, about: the folder bound above is lowered to this many entries at
 * the folders' average size so far. 1,024 folders of a thousand files each waited as ~100 MB of
 * listings, which the main thread's collector let lie long after they were taken (a no-change backup
 * of a million files peaked at 335 MB); 65,536 entries are ~6.5 MB.
 */
const ENTRIES_AHEAD = 65_536;

/** How much is listed ahead: at most `folders` folders and about `entries` entries, at least `least` folders however large. */
export interface ListingsAhead {
  readonly folders: number;
  readonly entries: number;
  readonly least: number;
}

const LISTINGS_AHEAD: ListingsAhead = { folders: LISTED_AHEAD, entries: ENTRIES_AHEAD, least: 16 };

/** The listing thread, once started, and the channel its listings come back on. */
interface ListingThread {
  readonly worker: Worker;
  readonly port: MessagePort;
}

/**
 * Lists folders for a backup's walk, and counts the backup's totals.
 *
 * On the calling thread, one folder per turn of its event loop, unless the walk asks for a thread of its
 * own (`useThread`): a backup with a parent snapshot to compare with, whose main thread has work of its
 * own between listings (on a 2-core machine it was busy ~0.3 s of a 1.9 s backup with readdir and a
 * promise-per-entry lstat alone; small change of the linux tree, 4 alternating rounds, 1.63-1.75 s with
 * the thread, 1.77-1.91 s without). A first backup waits on its file threads instead, and a thread of
 * its own cost as much memory as it saved time: gcc tree into tmpfs, 4 alternating rounds, 8.54-9.02 s
 * and 237-241 MB peak RSS with it, 8.50-8.58 s and 210-216 MB without.
 *
 * The count runs in that thread, started for it if the walk has none, and stopped once it is done.
 */
export class FolderLister {
  private thread: ListingThread | undefined;
  /** Listings go to the thread (once it is ready), not the calling thread. */
  private threadLists = false;
  private readonly pending = new Map<number, { folder: Buffer; extras: ListExtras; only: boolean; resolve(listing: FolderListing): void; reject(err: unknown): void }>();
  private nextId = 0;
  private failure: unknown;
  /** Listings asked for ahead (by `prefetch`), by folder path (latin1), until `list` takes them. */
  private readonly ahead = new Map<string, Promise<FolderListing>>();
  /** Folders `prefetch` was given that found no room ahead yet, in the walk's order: asked for as listings are taken. */
  private readonly deferred = new Map<string, FolderToList>();
  /** Folders listed so far and their entries, for their average size. */
  private foldersListed = 0;
  private entriesListed = 0;
  /** The thread has loaded and listens; until then, folders are listed here (see listHere). */
  private threadReady = false;
  /** Requests not sent to a thread and not yet listed here, the one the walk waits for first. */
  private unsent: ListRequest[] = [];
  private listingHere = false;
  private listedHere = 0;

  constructor(private readonly limits: ListingsAhead = LISTINGS_AHEAD) {}

  /**
   * Lists in a thread of its own from now on, once it has loaded (folders asked for meanwhile are listed
   * here: the thread takes ~140 ms to start and load, and the walk waited for its first listings with
   * the main thread idle, ~a fifth of a no-change backup of the 1 GiB benchmark set).
   */
  useThread(): void {
    if (this.threadLists || this.failure !== undefined) return;
    this.threadLists = true;
    this.startThread();
    if (this.threadReady) this.handOver();
  }

  /** Whether listings go to the thread now: it is used and has loaded. */
  get threadIsReady(): boolean {
    return this.threadLists && this.threadReady;
  }

  /** Whether a thread is running (for listings, or for a count that is not done). */
  get threadRunning(): boolean {
    return this.thread !== undefined;
  }

  /** Folders listed on the calling thread. */
  get foldersListedHere(): number {
    return this.listedHere;
  }

  /** Folders asked for ahead whose listings no one has taken yet. */
  get listedAhead(): number {
    return this.ahead.size;
  }

  /** Counts the files and bytes below `sources` (as the backup will see them), in the thread, between its listings. */
  count(sources: readonly string[], excludes: ExcludeOptions, oneFileSystem: boolean): Promise<ScanTotals> {
    const { worker } = this.startThread();
    const counted = new Promise<ScanTotals>((resolve, reject) => {
      worker.on('message', (message: WalkMessage) => {
        if (message.type === 'totals') resolve(message.totals);
        else reject(new Error(message.message));
      });
      worker.on('error', reject);
      worker.on('exit', () => reject(new Error('the folder listing thread stopped before the count was done')));
      worker.postMessage({ sources, excludes, oneFileSystem } satisfies CountRequest);
    });
    // A thread started for the count alone is not kept for the rest of the backup.
    const done = () => {
      if (!this.threadLists && this.thread?.worker === worker) this.stopThread();
    };
    counted.then(done, done);
    return counted;
  }

  private startThread(): ListingThread {
    if (this.thread) return this.thread;
    const { port1: port, port2 } = new MessageChannel();
    const data: WalkWorkerData = { port: port2 };
    const worker = new Worker(workerScript('walkWorker'), { workerData: data, transferList: [port2] });
    port.on('message', (message: ListReplies | ListerReady) => {
      if ('ready' in message) {
        this.threadReady = true;
        if (this.threadLists) this.handOver();
      } else for (const reply of message.replies) this.receive(reply);
    });
    port.unref();
    worker.unref();
    // A thread that lists: its failure, or an exit we did not ask for (an error event comes first when
    // there is one), must not leave the walk waiting. One that only counts fails only the count.
    worker.on('error', (err) => {
      if (this.threadLists) this.fail(err);
    });
    worker.on('exit', (code) => {
      if (this.threadLists && this.thread?.worker === worker) this.fail(new Error(`the folder listing thread stopped (exit status ${code})`));
    });
    this.thread = { worker, port };
    return this.thread;
  }

  /** Stops a thread that only counted (`close` stops any). Not awaited: see FileSaver.close on terminate(). */
  private stopThread(): void {
    const thread = this.thread;
    if (!thread) return;
    this.thread = undefined;
    this.threadReady = false;
    thread.port.close();
    thread.worker.terminate().catch(() => undefined);
  }

  /**
   * Lists `folder` (only the entry `only`, if given): each entry with its lstat, sorted by name, and with
   * `extras` its extended attributes and folders' flags too (each entry's stat says whether they were
   * read). A listing asked for ahead is taken as it was asked for.
   */
  async list(folder: Buffer, only?: Buffer, extras: ListExtras = { xattrs: false, flags: false }): Promise<FolderListing> {
    const key = folder.toString('latin1');
    const listed = this.ahead.get(key);
    if (!listed) {
      this.deferred.delete(key);
      return this.ask([{ folder, extras }], only, true)[0] as Promise<FolderListing>;
    }
    this.ahead.delete(key);
    this.askAhead();
    const listing = await listed;
    if (!only || 'failed' in listing) return listing;
    return listingOf(listing.entries.filter((entry) => entry.name.equals(only)));
  }

  /**
   * Asks for these folders' listings, for `list` to take later: now, in one message, as many as there is
   * room for ahead (LISTED_AHEAD, ENTRIES_AHEAD); the others, in this order, as listings are taken.
   */
  prefetch(folders: readonly FolderToList[]): void {
    if (this.failure !== undefined) return;
    for (const folder of folders) {
      const key = folder.folder.toString('latin1');
      if (!this.ahead.has(key)) this.deferred.set(key, folder);
    }
    this.askAhead();
  }

  /** Asks for deferred folders while there is room ahead. */
  private askAhead(): void {
    const average = this.foldersListed === 0 ? 1 : Math.max(1, this.entriesListed / this.foldersListed);
    const room = Math.min(this.limits.folders, Math.max(this.limits.least, Math.floor(this.limits.entries / average))) - this.ahead.size;
    if (room <= 0 || this.deferred.size === 0 || this.failure !== undefined) return;
    const wanted: FolderToList[] = [];
    for (const [key, folder] of this.deferred) {
      if (wanted.length === room) break;
      this.deferred.delete(key);
      wanted.push(folder);
    }
    for (const [i, listing] of this.ask(wanted).entries()) {
      // Nobody may ever ask for it (the backup failed or stopped first): its failure is then nobody's.
      listing.catch(() => undefined);
      this.ahead.set((wanted[i] as FolderToList).folder.toString('latin1'), listing);
    }
  }

  /** `urgent`: the walk waits for these now (a list, not a prefetch). */
  private ask(folders: readonly FolderToList[], only?: Buffer, urgent = false): Promise<FolderListing>[] {
    if (this.failure !== undefined) return folders.map(() => Promise.reject(this.failure));
    const requests: ListRequest[] = [];
    const listings = folders.map(
      ({ folder, extras }) =>
        new Promise<FolderListing>((resolve, reject) => {
          const id = this.nextId++;
          requests.push({ id, folder: folder.toString('latin1'), ...(only ? { only: only.toString('latin1') } : {}), xattrs: extras.xattrs, flags: extras.flags });
          this.pending.set(id, { folder, extras, only: only !== undefined, resolve, reject });
        }),
    );
    if (this.thread && this.threadIsReady) {
      this.thread.port.ref();
      this.thread.port.postMessage({ requests } satisfies ListRequests);
    } else {
      if (urgent) this.unsent.unshift(...requests);
      else this.unsent.push(...requests);
      this.listHere();
    }
    return listings;
  }

  /**
   * Lists the next unsent folder on this thread, one per turn of the event loop (so the walk, an agent's
   * callers and a thread's word that it is ready are heard between two), until a thread lists them.
   */
  private listHere(): void {
    if (this.listingHere) return;
    this.listingHere = true;
    setImmediate(() => {
      this.listingHere = false;
      const request = this.unsent.shift();
      if (!request || this.failure !== undefined) return;
      this.listedHere += 1;
      this.receive(listFolder(request));
      if (this.unsent.length > 0) this.listHere();
    });
  }

  /** The thread lists from now on: what was not listed here yet goes to it. */
  private handOver(): void {
    const requests = this.unsent;
    this.unsent = [];
    if (requests.length === 0 || this.failure !== undefined || !this.thread) return;
    this.thread.port.ref();
    this.thread.port.postMessage({ requests } satisfies ListRequests);
  }

  /** Stops the worker (a count still running is abandoned). Not awaited: see FileSaver.close on terminate(). */
  close(): void {
    for (const waiting of this.pending.values()) waiting.reject(new Error('the folder lister is closed'));
    this.pending.clear();
    this.ahead.clear();
    this.deferred.clear();
    this.unsent = [];
    this.stopThread();
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }

  private receive(reply: ListReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.thread?.port.unref();
    if ('ends' in reply) {
      this.foldersListed += 1;
      this.entriesListed += reply.ends.length;
    }
    waiting.resolve('failed' in reply ? { failed: reply.failed } : new ReplyListing(waiting.folder, waiting.extras, waiting.only, reply));
  }
}

type ListedReply = Extract<ListReply, { readonly names: Uint8Array }>;

/** A listing as the lister thread sent it; an entry becomes an object when first asked for. */
class ReplyListing implements ListedFolder {
  /** Every entry was examined, and every entry listed. */
  private readonly complete: boolean;
  private readonly names: Buffer;
  private readonly made: (ListedEntry | undefined)[];
  private all: readonly ListedEntry[] | undefined;
  private stamped: ListedStamps | undefined;
  /** The entries with attributes or flags (or a failure to read them), by index, once an entry is made. */
  private extrasAt: { xattrs: Map<number, ListedXattrs>; flags: Map<number, ListedFlags> } | undefined;

  constructor(
    private readonly folder: Buffer,
    private readonly extras: ListExtras,
    only: boolean,
    private readonly reply: ListedReply,
  ) {
    this.names = Buffer.from(reply.names.buffer, reply.names.byteOffset, reply.names.byteLength);
    this.made = new Array<ListedEntry | undefined>(reply.ends.length);
    this.complete = !only && reply.errors.every((error) => error === null);
  }

  digest(salt: string): Buffer | undefined {
    if (!this.complete) return undefined;
    // One hash over the salt and the reply's three arrays: names, where each ends, and the packed lstat fields.
    const { ends, stats } = this.reply;
    return createHash('sha256')
      .update(salt)
      .update(this.names)
      .update(new Uint8Array(ends.buffer, ends.byteOffset, ends.byteLength))
      .update(new Uint8Array(stats.buffer, stats.byteOffset, stats.byteLength))
      .digest();
  }

  get entries(): readonly ListedEntry[] {
    this.all ??= Array.from(this.made, (_, i) => this.entry(i));
    return this.all;
  }

  get count(): number {
    return this.made.length;
  }

  name(index: number): Buffer {
    return this.made[index]?.name ?? this.names.subarray(this.nameStart(index), this.reply.ends[index]);
  }

  compareName(index: number, bytes: Buffer, start: number, end: number): number {
    return this.names.compare(bytes, start, end, this.nameStart(index), this.reply.ends[index]);
  }

  /** Where entry `index`'s name starts in `names` (it ends at `ends[index]`). */
  private nameStart(index: number): number {
    return index === 0 ? 0 : (this.reply.ends[index - 1] as number);
  }

  stamps(): ListedStamps | undefined {
    if (!this.stamped) {
      const { stats, errors } = this.reply;
      const words = packedWords(stats);
      this.stamped = { stamps: statStamps(stats, this.made.length, (index) => errors[index] !== null), size: (index) => packedSize(words, index) };
    }
    return this.stamped;
  }

  entry(index: number): ListedEntry {
    const made = this.made[index];
    if (made) return made;
    const { reply } = this;
    const name = this.names.subarray(this.nameStart(index), reply.ends[index]);
    const path = childPath(this.folder, name);
    const error = reply.errors[index];
    let entry: ListedEntry;
    if (error) entry = { name, path, stat: undefined, error };
    else {
      const stat = PackedStat.at(reply.stats, index, this.extras.xattrs, this.extras.flags);
      this.extrasAt ??= { xattrs: new Map(reply.xattrs.map((x) => [x.at, x])), flags: new Map(reply.flags.map((f) => [f.at, f])) };
      const xattrs = this.extrasAt.xattrs.get(index);
      const flags = this.extrasAt.flags.get(index);
      if (xattrs && !xattrs.error) stat.xattrs = xattrs.xattrs?.map(({ name, value }) => ({ name, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) }));
      if (flags && !flags.error) stat.flags = flags.flags;
      entry = { name, path, stat, ...(xattrs?.error ? { xattrError: xattrs.error } : {}), ...(flags?.error ? { flagsError: flags.error } : {}) };
    }
    this.made[index] = entry;
    return entry;
  }
}

/** A listing of the given entries, without a digest (see ListedFolder): its folder is looked at entry by entry at every backup. */
export function listingOf(entries: readonly ListedEntry[]): ListedFolder {
  return {
    entries,
    entry: (index) => entries[index] as ListedEntry,
    digest: () => undefined,
    count: entries.length,
    name: (index) => (entries[index] as ListedEntry).name,
    compareName: (index, bytes, start, end) => (entries[index] as ListedEntry).name.compare(bytes, start, end),
    stamps: () => undefined,
  };
}
