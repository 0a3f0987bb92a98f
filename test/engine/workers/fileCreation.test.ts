import assert from 'node:assert/strict';
import { openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../../src-main/engine/nativeAddon.js';
import { utimesSeconds } from '../../../src-main/engine/restorer/fileTimes.js';
import { createFile } from '../../../src-main/engine/workers/fileCreation.js';
import { seededBytes } from '../../helpers/data.js';
import { tempDir } from '../../helpers/tempDir.js';
import { tmpfsDir } from '../../helpers/tmpfs.js';

const isRoot = process.getuid?.() === 0;

test('a small file is created, written, owned, given its mode and times in one call', async (t) => {
  if (process.platform === 'linux') assert.equal(typeof nativeAddon()?.createFile, 'function', 'the addon is built and has createFile');
  const dir = await tempDir(t);
  const mtimeNs = 1_700_000_000_123_456_789n;
  const cases = [
    { name: 'plain', content: seededBytes('plain', 5000), createMode: 0o644, chmod: undefined },
    { name: 'empty', content: Buffer.alloc(0), createMode: 0o600, chmod: undefined },
    // Set-user-ID needs the chmod after the owner: a change of owner clears it.
    { name: 'setuid', content: seededBytes('setuid', 100), createMode: 0o600, chmod: 0o4755 },
    // Created with the owner it is to have: no fchown is needed (nor made, by the addon).
    { name: 'ours', content: seededBytes('ours', 10), createMode: 0o640, chmod: 0o2750, owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 } },
  ];
  for (const { name, content, createMode, chmod, ...given } of cases) {
    const path = join(dir, name);
    const owner = 'owner' in given ? given.owner : isRoot ? { uid: 1234, gid: 5678 } : undefined;
    assert.equal(createFile({ path: Buffer.from(path), content, createMode, owner, chmod, mtime: utimesSeconds(mtimeNs) }), undefined, name);
    const stat = statSync(path, { bigint: true });
    assert.ok(readFileSync(path).equals(content), `${name}: content`);
    assert.equal(Number(stat.mode & 0o7777n), chmod ?? createMode & ~process.umask(), `${name}: mode`);
    if (owner) assert.deepEqual([Number(stat.uid), Number(stat.gid)], [owner.uid, owner.gid], `${name}: owner`);
    // Truncated to the microsecond, as Node's futimes gives it.
    assert.equal(stat.mtimeNs, 1_700_000_000_123_456_000n, `${name}: modification time`);
    assert.equal(stat.atimeNs, 1_700_000_000_123_456_000n, `${name}: access time`);
  }
});

test('a file that exists is not touched, and the failure is told in Node\'s words', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'there');
  writeFileSync(path, 'keep me');
  const failure = createFile({ path: Buffer.from(path), content: Buffer.from('new'), createMode: 0o644, owner: undefined, chmod: undefined, mtime: 1 });
  let nodeMessage = '';
  try {
    openSync(path, 'wx');
  } catch (err) {
    nodeMessage = (err as Error).message;
  }
  assert.deepEqual(failure, { created: false, message: nodeMessage });
  assert.equal(readFileSync(path, 'utf8'), 'keep me');
});

test('a write that fails (a full disk) says so, with the file left for the caller to remove', async (t) => {
  const where = await tmpfsDir(t, 'size=64k');
  if (!where) return;
  const path = join(where, 'too big');
  const failure = createFile({ path: Buffer.from(path), content: seededBytes('big', 1024 * 1024), createMode: 0o644, owner: undefined, chmod: undefined, mtime: 1 });
  assert.deepEqual(failure, { created: true, message: 'ENOSPC: no space left on device, write' });
  assert.ok(statSync(path).isFile());
});
