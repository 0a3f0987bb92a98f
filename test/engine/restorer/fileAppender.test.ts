import assert from 'node:assert/strict';
import { constants as fsConstants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferPool } from '../../../src-main/engine/bufferPool.js';
import { DirectWriter } from '../../../src-main/engine/directWrites.js';
import { FileAppender, RESTORE_STAGE_BYTES } from '../../../src-main/engine/restorer/fileAppender.js';
import { seededBytes } from '../../helpers/data.js';
import { cachedBytes, pageCacheUncheckable } from '../../helpers/pageCache.js';
import { tempDir } from '../../helpers/tempDir.js';

/** Pieces that cross stage boundaries in every way: within one, exactly to its end, across several. */
const pieces = [seededBytes('a', 300_000), seededBytes('b', 5), seededBytes('c', RESTORE_STAGE_BYTES - 300_005), seededBytes('d', 2 * RESTORE_STAGE_BYTES + 12_345), seededBytes('e', 1)];

/** Creates `path` and an appender on it, uncached where the system allows, with `stage` (as a restore's writer thread does). */
async function appenderFor(path: string, stage: Uint8Array): Promise<{ appender: FileAppender; close(): Promise<void> }> {
  const file = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  const direct = await DirectWriter.openUncached(path, file, open);
  return {
    appender: new FileAppender(file.fd, direct?.fd, stage),
    close: async () => {
      await direct?.close();
      await file.close();
    },
  };
}

async function appendAll(path: string, stage: Uint8Array): Promise<void> {
  const { appender, close } = await appenderFor(path, stage);
  for (const piece of pieces) appender.append(piece);
  assert.equal(appender.finish(), pieces.reduce((sum, piece) => sum + piece.length, 0));
  await close();
}

test('a restored file written in aligned stages is exact, and only its last partial stage is left in the page cache', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'restored.bin');
  await appendAll(path, new BufferPool(1, RESTORE_STAGE_BYTES).take(RESTORE_STAGE_BYTES));
  const inCache = cachedBytes(path) ?? 0;
  assert.ok((await readFile(path)).equals(Buffer.concat(pieces)), 'the file differs from what was appended');
  const uncheckable = await pageCacheUncheckable(dir);
  if (uncheckable) {
    t.diagnostic(`${uncheckable}: the content was checked, not which bytes skipped the page cache`);
    return;
  }
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const lastStage = total % RESTORE_STAGE_BYTES;
  assert.ok(inCache <= lastStage + 4096, `${inCache} bytes in the cache, more than the last stage (${lastStage})`);
});

test('stages in ordinary memory, which O_DIRECT refuses, go through the page cache and the file is still exact', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'restored.bin');
  // A stage one byte past a page boundary: misaligned for any block size (ordinary memory is, by chance, aligned now and then).
  const misaligned = new BufferPool(1, 2 * RESTORE_STAGE_BYTES).take(2 * RESTORE_STAGE_BYTES).subarray(1, 1 + RESTORE_STAGE_BYTES);
  await appendAll(path, misaligned);
  const inCache = cachedBytes(path) ?? 0;
  assert.ok((await readFile(path)).equals(Buffer.concat(pieces)), 'the file differs from what was appended');
  if (await pageCacheUncheckable(dir)) return;
  assert.ok(inCache >= 3 * RESTORE_STAGE_BYTES, `written through the cache, so in it: ${inCache} bytes`);
});

test('zeros skipped as holes read back as zeros, take no space, and a hole at the end still gives the file its size', async (t) => {
  const dir = await tempDir(t);
  const data = (name: string, length: number) => ({ data: seededBytes(name, length) });
  // Holes of every alignment: after a partial block, across stage boundaries, a whole stage, at the end.
  const parts: ({ data: Buffer } | { zeros: number })[] = [
    data('a', 300_000),
    { zeros: 5 * RESTORE_STAGE_BYTES + 123 },
    data('b', 5),
    { zeros: 100 },
    { zeros: 2 * RESTORE_STAGE_BYTES + 4097 },
    data('c', RESTORE_STAGE_BYTES),
    { zeros: 3 * RESTORE_STAGE_BYTES + 1 },
  ];
  const expected = Buffer.concat(parts.map((part) => ('data' in part ? part.data : Buffer.alloc(part.zeros))));
  for (const [name, stage] of [
    ['aligned stages', new BufferPool(1, RESTORE_STAGE_BYTES).take(RESTORE_STAGE_BYTES)],
    ['ordinary memory', Buffer.alloc(RESTORE_STAGE_BYTES)],
  ] as const) {
    const path = join(dir, `${name}.bin`);
    const { appender, close } = await appenderFor(path, stage);
    for (const part of parts) {
      if ('data' in part) appender.append(part.data);
      else appender.skip(part.zeros);
    }
    assert.equal(appender.finish(), expected.length);
    await close();
    assert.ok((await readFile(path)).equals(expected), `${name}: the file differs from what was appended`);
    const allocated = (await stat(path)).blocks * 512;
    assert.ok(allocated < expected.length / 4, `${name}: ${allocated} bytes allocated for a ${expected.length}-byte file with 1.3 MB of data`);
  }
});
