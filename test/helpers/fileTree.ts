import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readlink, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededBytes } from './data.js';

const SLASH = Buffer.from('/');

export function child(parent: Buffer | string, name: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(parent), SLASH, Buffer.from(name)]);
}

export interface TreeShape {
  smallFiles?: number;
  sparseFileBytes?: number;
  depth?: number;
}

/**
 * Builds the awkward tree the round-trip tests need: empty files, a large
 * mostly-sparse file, many small files, unicode and non-UTF-8 names, a name
 * with a newline, symlinks (one dangling), hard links, an empty folder and
 * deep nesting. Returns the root.
 */
export async function buildAwkwardTree(root: string, shape: TreeShape = {}): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeFile(child(root, 'empty.txt'), '');
  await writeFile(child(root, 'hello.txt'), 'hello world\n');
  await writeFile(child(root, 'r\u00e9sum\u00e9 \u6587\u4ef6 \ud83d\ude00.txt'), 'unicode name');
  await writeFile(child(root, Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9, 0xff, 0x2e, 0x62, 0x69, 0x6e])), 'not utf-8 name');
  await writeFile(child(root, 'line\nbreak'), 'name with a newline');
  await writeFile(child(root, 'random.bin'), seededBytes('random', 3 * 1024 * 1024 + 77));
  await mkdir(child(root, 'empty-dir'));
  await mkdir(child(root, 'links'));
  await symlink('../hello.txt', child(root, 'links/to-hello'));
  await symlink('/nonexistent/dangling/target', child(root, 'links/dangling'));
  await symlink(Buffer.from([0x2e, 0x2f, 0xfe, 0xfd]), child(root, 'links/odd-target'));
  await writeFile(child(root, 'links/original'), 'one file, three names');
  await link(child(root, 'links/original'), child(root, 'links/hard-1'));
  await link(child(root, 'links/original'), child(root, 'hard-2'));
  const executable = child(root, 'run.sh');
  await writeFile(executable, '#!/bin/sh\necho hi\n', { mode: 0o755 });
  const readOnly = child(root, 'read-only.txt');
  await writeFile(readOnly, 'frozen', { mode: 0o444 });

  if (shape.sparseFileBytes) {
    const sparse = child(root, 'sparse.img');
    await writeFile(sparse, '');
    await truncate(sparse, shape.sparseFileBytes);
    const file = await open(sparse, 'r+');
    for (let i = 0; i < 8; i++) await file.write(seededBytes(`sparse${i}`, 256 * 1024), 0, 256 * 1024, Math.floor((i * shape.sparseFileBytes) / 8));
    await file.close();
  }
  if (shape.smallFiles) {
    for (let d = 0; d < Math.ceil(shape.smallFiles / 500); d++) {
      const dir = child(root, `many/d${d}`);
      await mkdir(dir, { recursive: true });
      for (let f = 0; f < 500 && d * 500 + f < shape.smallFiles; f++) {
        const n = d * 500 + f;
        await writeFile(child(dir, `f${n}.txt`), `small file ${n}\n`.repeat(1 + (n % 7)));
      }
    }
  }
  if (shape.depth) {
    let dir = root;
    for (let level = 0; level < shape.depth; level++) dir = `${dir}/n${level}`;
    await mkdir(dir, { recursive: true });
    await writeFile(`${dir}/bottom.txt`, 'deep down');
  }
  // Fixed times, so a test can tell restored mtimes from fresh ones.
  await utimes(child(root, 'hello.txt'), 1_000_000_000.25, 1_000_000_000.25);
}

export interface EntryState {
  readonly type: string;
  readonly mode: number;
  readonly size: number;
  readonly mtimeUs: bigint;
  readonly content?: string;
  readonly linkTarget?: string;
  /** Index of the first path with the same inode, to compare hard-link structure. */
  readonly linkGroup?: string;
}

/** Everything observable about a tree, keyed by the hex of each relative path. */
export async function describeTree(root: string | Buffer, options: { mtimes?: boolean; rootDir?: boolean } = {}): Promise<Map<string, EntryState>> {
  const entries = new Map<string, EntryState>();
  const inodes = new Map<bigint, string>();
  const visit = async (path: Buffer, relative: Buffer): Promise<void> => {
    for (const name of (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare)) {
      const full = child(path, name);
      const rel = relative.length === 0 ? name : child(relative, name);
      const stat: BigIntStats = await lstat(full, { bigint: true });
      const type = stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : stat.isSymbolicLink() ? 'symlink' : 'other';
      let linkGroup: string | undefined;
      if (type === 'file' && stat.nlink > 1n) {
        linkGroup = inodes.get(stat.ino) ?? rel.toString('hex');
        inodes.set(stat.ino, linkGroup);
      }
      entries.set(rel.toString('hex'), {
        type,
        mode: type === 'symlink' ? 0 : Number(stat.mode & 0o7777n),
        size: type === 'file' ? Number(stat.size) : 0,
        mtimeUs: options.mtimes === false ? 0n : stat.mtimeNs / 1000n,
        ...(type === 'file' ? { content: await hashFile(full) } : {}),
        ...(type === 'symlink' ? { linkTarget: (await readlink(full, { encoding: 'buffer' })).toString('hex') } : {}),
        ...(linkGroup ? { linkGroup } : {}),
      });
      if (type === 'dir') await visit(full, rel);
    }
  };
  await visit(Buffer.from(root), Buffer.alloc(0));
  return entries;
}

async function hashFile(path: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  const buffer = Buffer.alloc(1024 * 1024);
  for (;;) {
    const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
  }
  await file.close();
  return hash.digest('hex');
}

/**
 * Asserts two trees are the same: names, types, contents, modes, link
 * targets, hard-link groups, and mtimes to the microsecond (libuv sets file
 * times with microsecond resolution).
 */
export function assertSameTree(actual: Map<string, EntryState>, expected: Map<string, EntryState>): void {
  const name = (hex: string) => JSON.stringify(Buffer.from(hex, 'hex').toString('latin1'));
  const missing = [...expected.keys()].filter((k) => !actual.has(k)).map(name);
  const extra = [...actual.keys()].filter((k) => !expected.has(k)).map(name);
  assert.deepEqual({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }, { missing: [], extra: [] });
  for (const [key, want] of expected) {
    assert.deepEqual(actual.get(key), want, `entry ${name(key)} differs`);
  }
}

/** Every file under a repository folder but its locks, by path: what a refused forget or prune must leave as it was. */
export async function filesExceptLocks(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.parentPath.endsWith('/locks'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}
