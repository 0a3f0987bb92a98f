import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as BlakeHash from '@napi-rs/blake-hash';

/**
 * @napi-rs/blake-hash, loaded from its platform binary's own package where that is plainly the one. The
 * package's index.js (1.3.4, pinned: see blobId.ts) first asks on Linux whether the C library is musl
 * through process.report.getReport(), a report of the whole process: loading it took 9-12 ms in a fresh
 * worker thread, its binary alone ~5 (AMD EPYC VM), and every thread that makes blob ids loads it (the
 * main thread, each file worker, restore writer and pack verifier). Here glibc is told from musl as the
 * package's newer loaders (and @node-rs/argon2's, here) do, by /usr/bin/ldd; anything else, or a
 * binary that does not load, goes through the package as it is.
 */
function load(): typeof BlakeHash {
  const require = createRequire(import.meta.url);
  if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') && glibc()) {
    try {
      return require(`@napi-rs/blake-hash-linux-${process.arch}-gnu`) as typeof BlakeHash;
    } catch {
      // Not installed, or not loadable here: the package decides.
    }
  }
  return require('@napi-rs/blake-hash') as typeof BlakeHash;
}

function glibc(): boolean {
  try {
    return !readFileSync('/usr/bin/ldd', 'latin1').includes('musl');
  } catch {
    return false;
  }
}

export const { Blake3Hasher } = load();
export type Blake3Hasher = BlakeHash.Blake3Hasher;
