import { readdirSync } from 'node:fs';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { childPath } from '../archiver/childPath.js';
import { ExcludeRules, type ExcludeOptions } from '../archiver/excludes.js';
import { PackedStat } from '../archiver/entryStat.js';
import { joinNames, lstatEntries } from '../archiver/folderStats.js';
import { scanSources, type ScanTotals } from '../archiver/scanner.js';
import { readXattrs } from '../metadata/xattrs.js';
import { readFlags, type FileFlags } from '../metadata/fileFlags.js';

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
  const replies = requests.map(list);
  const transfer = replies.flatMap((reply) => ('names' in reply ? [reply.names.buffer, reply.ends.buffer, reply.stats.buffer] : []));
  port.postMessage({ replies } satisfies ListReplies, transfer as ArrayBuffer[]);
});

function list({ id, folder, only, xattrs: withXattrs, flags: withFlags }: ListRequest): ListReply {
  const path = Buffer.from(folder, 'latin1');
  let names: Buffer[];
  try {
    names = readdirSync(path, { encoding: 'buffer' }).sort(Buffer.compare);
  } catch (err) {
    return { id, failed: errorInfo(err) };
  }
  if (only !== undefined) names = names.filter((name) => name.toString('latin1') === only);
  const listed = joinNames(names);
  const { stats, errors: failures } = lstatEntries(path, names, listed);
  const errors: (ErrorInfo | null)[] = [];
  const xattrs: ListedXattrs[] = [];
  const flags: ListedFlags[] = [];
  for (const [i, name] of names.entries()) {
    const failure = failures[i];
    errors.push(failure ? errorInfo(failure) : null);
    if (failure || (!withFlags && !withXattrs)) continue;
    const entry = childPath(path, name);
    const stat = PackedStat.at(stats, i);
    if (withFlags && stat.isDirectory()) {
      try {
        const found = readFlags(entry, stat.dev);
        if (found) flags.push({ at: i, flags: found });
      } catch (err) {
        flags.push({ at: i, error: errorInfo(err) });
      }
    }
    // Here, in this thread's synchronous loop, attributes cost their system call and nothing more.
    if (!withXattrs) continue;
    try {
      const found = readXattrs(entry);
      if (found) xattrs.push({ at: i, xattrs: found });
    } catch (err) {
      xattrs.push({ at: i, error: errorInfo(err) });
    }
  }
  // A copy: a small Buffer.concat lies in Node's shared pool, which must not be transferred.
  return { id, names: new Uint8Array(listed.joined), ends: listed.ends, stats, errors, xattrs, flags };
}

function errorInfo(err: unknown): ErrorInfo {
  return { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message };
}

parentPort?.on('message', ({ sources, excludes, oneFileSystem }: CountRequest) => {
  scanSources(sources, new ExcludeRules(excludes), oneFileSystem).then(
    (totals) => parentPort?.postMessage({ type: 'totals', totals } satisfies WalkMessage),
    (err: unknown) => parentPort?.postMessage({ type: 'totalsFailed', message: (err as Error).message } satisfies WalkMessage),
  );
});
