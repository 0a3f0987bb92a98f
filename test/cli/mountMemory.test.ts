import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureMountMemory } from '../helpers/mountMemory.js';
import { tempDir } from '../helpers/tempDir.js';

// The whole figure (a 2 GB file and 10,000 small files) is `npm run bench:mount`; this is the same at a size the suite can afford.
test('the mount stays within its memory bound while rclone reads a large file and many small ones at once', async (t) => {
  const dir = await tempDir(t, 'hindsight-mount-memory-');
  const result = await measureMountMemory(t, dir, 384 * 1024 * 1024, 2000);
  t.diagnostic(`peak RSS ${result.peakRssMiB.toFixed(0)} MiB (at start ${result.startRssMiB.toFixed(0)} MiB), ${result.seconds.toFixed(1)} s, big file at ${result.bigMiBps.toFixed(0)} MiB/s`);
  // Node and the index take what they take at start; reading may add the 64 MiB chunk cache and what is in flight, not the file.
  assert.ok(result.peakRssMiB - result.startRssMiB < 200, `the mount grew by ${(result.peakRssMiB - result.startRssMiB).toFixed(0)} MiB while reading 384 MiB`);
});
