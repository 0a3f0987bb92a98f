import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseArgs } from 'node:util';
import { measureMountMemory } from '../helpers/mountMemory.js';

/**
 * `npm run bench:mount [-- --big-mib 2048 --small 10000]`
 *
 * The resident memory of `hindsight mount` (sampled from /proc every 100 ms) while rclone reads a
 * BIG-MiB file and copies SMALL small files through it at the same time (issue 21: a 2 GB file and
 * 10,000 small files), with the read checked against the source.
 */
const { values } = parseArgs({ options: { 'big-mib': { type: 'string', default: '2048' }, small: { type: 'string', default: '10000' } } });
test('mount memory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hindsight-bench-mount-'));
  try {
    const result = await measureMountMemory(t, dir, Number(values['big-mib']) * 1024 * 1024, Number(values.small));
    console.log(`mount: peak RSS ${result.peakRssMiB.toFixed(0)} MiB (${result.startRssMiB.toFixed(0)} MiB at start) while rclone read ${values['big-mib']} MiB and ${values.small} small files in ${result.seconds.toFixed(1)} s; big file at ${result.bigMiBps.toFixed(0)} MiB/s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
