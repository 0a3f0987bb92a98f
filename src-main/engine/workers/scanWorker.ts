import { parentPort, workerData } from 'node:worker_threads';
import { ExcludeRules, type ExcludeOptions } from '../archiver/excludes.js';
import { scanSources } from '../archiver/scanner.js';

export interface ScanWorkerData {
  readonly sources: readonly string[];
  readonly excludes: ExcludeOptions;
  readonly oneFileSystem: boolean;
}

/** Worker thread: counts what a backup will visit, so the walk's second pass over every entry costs the main thread nothing. */
const { sources, excludes, oneFileSystem } = workerData as ScanWorkerData;
parentPort?.postMessage(await scanSources(sources, new ExcludeRules(excludes), oneFileSystem));
