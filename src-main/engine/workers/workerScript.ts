export type WorkerName = 'fileWorker' | 'walkWorker' | 'fileWriter' | 'packVerifier';

/**
 * The script of a worker thread. Worker scripts sit beside this module's code both in the compiled
 * tree (build/src-main/engine/workers) and in the CLI's bundle (build/bundle/cli, where this module
 * is part of a shared chunk), so one URL relative to it holds in both.
 */
export function workerScript(name: WorkerName): URL {
  return new URL(`./${name}.js`, import.meta.url);
}
