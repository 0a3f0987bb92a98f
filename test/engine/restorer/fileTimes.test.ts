import assert from 'node:assert/strict';
import { stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { utimesSeconds } from '../../../src-main/engine/restorer/fileTimes.js';
import { tempDir } from '../../helpers/tempDir.js';

test('a time set through utimesSeconds reads back as the same microsecond', async (t) => {
  const file = join(await tempDir(t), 'f');
  await writeFile(file, '');
  let ns = 1_795_428_887_076_722_999n;
  for (let i = 0; i < 300; i++) {
    // Walk through nanosecond values near microsecond edges and across decades.
    ns = (ns * 6364136223846793005n + 1442695040888963407n) % 4_000_000_000_000_000_000n;
    const value = i % 3 === 0 ? (ns / 1000n) * 1000n : i % 3 === 1 ? (ns / 1000n) * 1000n + 999n : ns;
    const seconds = utimesSeconds(value);
    await utimes(file, seconds, seconds);
    const { mtimeNs } = await stat(file, { bigint: true });
    assert.equal(mtimeNs / 1000n, value / 1000n, `set ${value}, got ${mtimeNs}`);
  }
});
