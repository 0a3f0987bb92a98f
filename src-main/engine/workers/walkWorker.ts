import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ExcludeRules, type ExcludeOptions } from '../archiver/excludes.js';
import { FolderChecker, type RecordReader } from '../archiver/folderCheck.js';
import { listFolder } from '../archiver/listFolder.js';
import { scanSources, type ScanTotals } from '../archiver/scanner.js';
import type { FileFlags } from '../metadata/fileFlags.js';

export interface WalkWorkerData {
  /** Where list requests arrive and their answers go. */
  readonly port: MessagePort;
}

/** Sent on the worker's own channel: count what the backup will visit, for its progress totals. */
export interface CountRequest {
  readonly sources: readonly string[];
  readonly excludes: ExcludeOptions;
  readonly oneFileSystem: boolean;
}

export interface ListRequest {
  readonly id: number;
  /** The folder's path bytes as a latin1 string: one copy to cross threads (see ReadRequest.path). */
  readonly folder: string;
  /** List this name alone (if present) instead of every entry; latin1 like `folder`. */
  readonly only?: string;
  /** Read each entry's extended attributes along with its lstat. */
  readonly xattrs: boolean;
  /** Read the file flags of each folder among the entries (a file's are read with its content). */
  readonly flags: boolean;
  /** Compare the folder with its record in the files cache (see FolderChecker). */
  readonly expect?: ExpectedTree;
}

/** What a folder's record must say for the folder to be taken whole: its tree in the parent snapshot, and the digest's salt. */
export interface ExpectedTree {
  /** The tree's id, latin1 (see ListRequest.folder). */
  readonly tree: string;
  /** The backup's settings that shape a tree, as BackupRun.settingsOf's text. */
  readonly salt: string;
}

/**
 * A folder whose listing and every subfolder's below it are as the files cache recorded them when the
 * parent snapshot's trees were made: its tree is that snapshot's, and these are its counts.
 */
export interface UnchangedSubtree {
  readonly tree: Uint8Array;
  /** Files, their bytes, and other entries (links, fifos, devices) in the whole subtree. */
  readonly files: number;
  readonly bytes: number;
  readonly others: number;
  /** Subfolders below the folder, at any depth. */
  readonly dirs: number;
  /** Folders taken whole: the folder and every subfolder walked below it. */
  readonly folders: number;
}

/** What comparing a listed folder with its record found (see FolderChecker), when it was not unchanged as a whole. */
export interface CheckedFolder {
  /** The folder's record, when its tree is the expected one. */
  readonly record?: Uint8Array;
  /** The listing's digest (see ListedFolder.digest); absent when an entry could not be examined. */
  readonly key?: Uint8Array;
  /** When the listing matched the record: per child in the record, its subtree if unchanged, else null. */
  readonly verdicts?: readonly (UnchangedSubtree | null)[];
}

export interface ErrorInfo {
  readonly code: string | undefined;
  readonly message: string;
}

/** A folder that could not be listed. */
export interface FailedReply {
  readonly id: number;
  readonly failed: ErrorInfo;
}

/** A folder's listing. */
export interface ListedReply {
  readonly id: number;
  /** The names, sorted bytewise, concatenated; `ends[i]` is where name i ends. */
  readonly names: Uint8Array;
  readonly ends: Uint32Array;
  /** Each entry's lstat, packed (see entryStat.ts); zeros where `errors[i]` is set. */
  readonly stats: BigInt64Array;
  readonly errors: readonly (ErrorInfo | null)[];
  /** Only the entries that have extended attributes, or whose attributes could not be read. */
  readonly xattrs: readonly ListedXattrs[];
  /** Only the folders that have file flags, or whose flags could not be read. */
  readonly flags: readonly ListedFlags[];
  /** For a request that expected a tree: what the comparison found. */
  readonly checked?: CheckedFolder;
}

export type ListReply = FailedReply | ListedReply | { readonly id: number; readonly unchanged: UnchangedSubtree };

/** Folders to list, answered together in a ListReplies. */
export interface ListRequests {
  readonly requests: readonly ListRequest[];
}

export interface ListReplies {
  readonly replies: readonly ListReply[];
}

/** Where the files cache keeps folders' records, for requests that expect a tree; posted before the first of them. */
export interface RecordsAt {
  readonly records: { readonly file: string; readonly nativeBinding: string | undefined };
}

/** No more requests expect a tree: the thread closes its connection to the files cache, and says so with the same message. */
export interface RecordsDone {
  readonly recordsDone: true;
}

/** Posted once, when the thread has loaded and listens for ListRequests. */
export interface ListerReady {
  readonly ready: true;
}

export interface ListedXattrs {
  readonly at: number;
  readonly xattrs?: readonly { readonly name: string; readonly value: Uint8Array }[];
  readonly error?: ErrorInfo;
}

export interface ListedFlags {
  readonly at: number;
  readonly flags?: FileFlags;
  readonly error?: ErrorInfo;
}

export type WalkMessage = { readonly type: 'totals'; readonly totals: ScanTotals } | { readonly type: 'totalsFailed'; readonly message: string };

/**
 * Worker thread: lists folders for a backup's walk (readdir, then lstat of
 * every entry) with synchronous calls, which cost a fraction of the main
 * thread's promise-per-call lstat, and counts the backup's totals in
 * between. Listings are answered as soon as they are asked for, several
 * at once when the backup asks for a folder's subfolders ahead; the count
 * yields to them after every folder.
 */
const { port } = workerData as WalkWorkerData;
/** Answers go out at least this often while a batch of requests is being answered. */
const FLUSH_MS = 2;
let checker: FolderChecker | undefined;
let records: Database.Database | undefined;

port.on('message', (message: ListRequests | RecordsAt | RecordsDone) => {
  if ('records' in message) {
    records = openRecords(message.records.file, message.records.nativeBinding);
    checker = new FolderChecker(recordReader(records));
    return;
  }
  if ('recordsDone' in message) {
    checker = undefined;
    records?.close();
    records = undefined;
    port.postMessage({ recordsDone: true } satisfies RecordsDone);
    return;
  }
  let replies: ListReply[] = [];
  let since = performance.now();
  for (const request of message.requests) {
    replies.push(checker && request.expect ? checker.answer(request) : listFolder(request));
    // A checked folder can take a whole subtree's listings to answer: what is answered goes out every
    // few milliseconds, so that the walk is not kept waiting for the last folder of a batch.
    if (performance.now() - since < FLUSH_MS) continue;
    post(replies);
    replies = [];
    since = performance.now();
  }
  if (replies.length > 0) post(replies);
});

function post(replies: readonly ListReply[]): void {
  const transfer = replies.flatMap((reply) => ('names' in reply ? [reply.names.buffer, reply.ends.buffer, reply.stats.buffer] : []));
  port.postMessage({ replies } satisfies ListReplies, transfer as ArrayBuffer[]);
}

/**
 * A connection of this thread's own to the files cache, read-only (the backup writes through its own);
 * undefined when the cache cannot be opened: the backup then compares those folders itself (the cache is
 * only a shortcut).
 */
function openRecords(file: string, nativeBinding: string | undefined): Database.Database | undefined {
  try {
    // Loaded only here: a thread that only counts (a first backup) has no use for it (~8 ms to load).
    const open = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    const db = new open(file, { readonly: true, fileMustExist: true, ...(nativeBinding === undefined ? {} : { nativeBinding }) });
    // Records are read once each, in the walk's order (see FilesCache on its page cache).
    db.pragma('cache_size = -1024');
    return db;
  } catch {
    return undefined;
  }
}

function recordReader(db: Database.Database | undefined): RecordReader {
  if (!db) return () => undefined;
  const statement = db.prepare<[Buffer], { record: Buffer }>('SELECT record FROM trees WHERE path = ?');
  return (path) => {
    try {
      return statement.get(path)?.record;
    } catch {
      return undefined;
    }
  };
}
// Loaded and listening: the backup's main thread, which lists folders itself until now, hands them over.
port.postMessage({ ready: true } satisfies ListerReady);

parentPort?.on('message', ({ sources, excludes, oneFileSystem }: CountRequest) => {
  scanSources(sources, new ExcludeRules(excludes), oneFileSystem).then(
    (totals) => parentPort?.postMessage({ type: 'totals', totals } satisfies WalkMessage),
    (err: unknown) => parentPort?.postMessage({ type: 'totalsFailed', message: (err as Error).message } satisfies WalkMessage),
  );
});
