import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ExcludeRules, type ExcludeOptions } from '../archiver/excludes.js';
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
}

export interface ErrorInfo {
  readonly code: string | undefined;
  readonly message: string;
}

export type ListReply =
  | { readonly id: number; readonly failed: ErrorInfo }
  | {
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
    };

/** Folders to list, answered together in a ListReplies. */
export interface ListRequests {
  readonly requests: readonly ListRequest[];
}

export interface ListReplies {
  readonly replies: readonly ListReply[];
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

port.on('message', ({ requests }: ListRequests) => {
  const replies = requests.map(listFolder);
  const transfer = replies.flatMap((reply) => ('names' in reply ? [reply.names.buffer, reply.ends.buffer, reply.stats.buffer] : []));
  port.postMessage({ replies } satisfies ListReplies, transfer as ArrayBuffer[]);
});
// Loaded and listening: the backup's main thread, which lists folders itself until now, hands them over.
port.postMessage({ ready: true } satisfies ListerReady);

parentPort?.on('message', ({ sources, excludes, oneFileSystem }: CountRequest) => {
  scanSources(sources, new ExcludeRules(excludes), oneFileSystem).then(
    (totals) => parentPort?.postMessage({ type: 'totals', totals } satisfies WalkMessage),
    (err: unknown) => parentPort?.postMessage({ type: 'totalsFailed', message: (err as Error).message } satisfies WalkMessage),
  );
});
