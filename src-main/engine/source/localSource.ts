import { lstat, readlink } from 'node:fs/promises';
import { FileSaver } from '../archiver/fileSaver.js';
import { FolderLister } from '../archiver/folderLister.js';
import { isCacheDirectory } from '../archiver/excludes.js';
import type { Source } from './source.js';

/**
 * This computer's file systems: folders listed by the walk thread, files read by the file worker
 * threads, exactly as a backup did before sources had kinds (the seam costs one indirect call per
 * object made, none per file).
 */
export const localSource: Source = {
  host: undefined,
  local: true,
  cacheScope: undefined,
  countsTotals: true,
  lstat: (path) => lstat(path, { bigint: true }),
  readlink: (path) => readlink(path, { encoding: 'buffer' }),
  isCacheDirectory,
  lister: () => new FolderLister(),
  reader: (saver, options) => new FileSaver(saver, options),
};
