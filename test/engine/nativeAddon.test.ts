import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { nativeAddon } from '../../src-main/engine/nativeAddon.js';

function residentKb(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

const glibc = process.platform === 'linux' && (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;

test('trimHeap gives the C heap’s freed pages back to the system (glibc)', { skip: glibc ? false : 'only glibc keeps freed pages; elsewhere trimHeap answers -ENOSYS' }, async () => {
  const addon = nativeAddon();
  assert.ok(addon, 'the addon is built by npm ci (native/file-flags)');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // 40 MB in 4 KiB pieces, each its own malloc below the mmap threshold, then one more kept alive above
  // them: freed, they sit inside the heap, where free() cannot hand them back by itself.
  const pieces = Array.from({ length: 10_000 }, () => Buffer.alloc(4096, 1));
  const kept = Buffer.alloc(4096, 2);
  assert.equal(pieces.length, 10_000);
  pieces.length = 0;
  gc();
  // Backing stores are freed by a background task after the collection.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = residentKb();
  assert.equal(addon.trimHeap(), 1, 'some pages were given back');
  const after = residentKb();
  assert.ok(before - after > 20_000, `resident memory fell by ${before - after} KB, expected more than 20 MB`);
  assert.equal(kept[0], 2);
});
