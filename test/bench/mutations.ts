import { lstat, open, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Seeded } from './seeded.js';
import type { TreeFile, TreeListing } from './tree.js';

/** What the "small change" scenario does to a tree; planned from a listing alone, so it is the same everywhere. */
export interface SmallChangePlan {
  /** mtime set to now, content unchanged: a tool must notice, and ideally not store anything new. */
  touch: string[];
  /** A few bytes inverted in place (same size; mtime changes by the write). */
  edit: { path: string; offset: number; length: number }[];
  add: { path: string; size: number }[];
  delete: string[];
}

/**
 * 1% of the files (at least one) changed, half of them only touched, half edited in place, and 0.1% (at
 * least 3) added and deleted: what a day of work leaves in a home folder.
 */
export function planSmallChange(listing: Pick<TreeListing, 'files' | 'folders'>, seed = 'hindsight-bench-small-change'): SmallChangePlan {
  const random = new Seeded(seed);
  const files = listing.files;
  const changed = Math.max(1, Math.round(files.length * 0.01));
  const churn = Math.min(Math.max(3, Math.round(files.length * 0.001)), Math.max(0, files.length - changed));
  const picks = random.pickIndexes(changed + churn, files.length).map((i) => files[i] as TreeFile);
  const plan: SmallChangePlan = { touch: [], edit: [], add: [], delete: [] };
  picks.slice(0, changed).forEach((file, i) => {
    // An empty file has no byte to edit: it is touched instead.
    if (i % 2 === 0 || file.size === 0) plan.touch.push(file.path);
    else {
      const length = Math.min(8, file.size);
      plan.edit.push({ path: file.path, offset: random.below(file.size - length + 1), length });
    }
  });
  plan.delete = picks.slice(changed).map((file) => file.path);
  const folders = listing.folders.length > 0 ? listing.folders : [''];
  for (let i = 0; i < churn; i++) {
    const folder = folders[random.below(folders.length)] as string;
    plan.add.push({ path: `${folder === '' ? '' : `${folder}/`}bench-added-${i}.txt`, size: 512 + random.below(16 * 1024) });
  }
  return plan;
}

export async function applySmallChange(root: string, plan: SmallChangePlan, seed = 'hindsight-bench-small-change-bytes'): Promise<void> {
  const random = new Seeded(seed);
  const now = new Date();
  for (const path of plan.touch) {
    const { atime } = await lstat(join(root, path));
    await utimes(join(root, path), atime, now);
  }
  for (const { path, offset, length } of plan.edit) await invertBytes(join(root, path), offset, length);
  for (const { path, size } of plan.add) await writeFile(join(root, path), random.bytes(Math.ceil((size * 3) / 4)).toString('base64').slice(0, size));
  for (const path of plan.delete) await rm(join(root, path));
}

/** Inverts `length` bytes at `offset`: the content surely changes, the size does not. */
async function invertBytes(path: string, offset: number, length: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, offset);
    for (let i = 0; i < bytesRead; i++) buffer[i] = (buffer[i] as number) ^ 0xff;
    await file.write(buffer, 0, bytesRead, offset);
  } finally {
    await file.close();
  }
}

/** The "after mutation" scenario on a real tree: edits that shift offsets inside larger files. */
export interface TreeMutationPlan {
  /** `length` bytes copied from `from` in the same file and inserted at `at` (source-like bytes, not noise). */
  insert: { path: string; at: number; from: number; length: number }[];
  add: { path: string; size: number }[];
  delete: string[];
}

/**
 * ~2% of the bytes inserted into the largest files (each gets up to a quarter of its size, at most
 * 256 KiB, at a seeded place), plus 100 files added and 100 deleted. Small change only flips a few bytes
 * of small files; this is the case where a tool must find its old chunk boundaries again after a shift.
 */
export function planTreeMutation(listing: Pick<TreeListing, 'files' | 'folders' | 'bytes'>, seed = 'hindsight-bench-tree-mutation'): TreeMutationPlan {
  const random = new Seeded(seed);
  const budget = listing.bytes * 0.02;
  const largest = [...listing.files].sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1));
  const plan: TreeMutationPlan = { insert: [], add: [], delete: [] };
  let inserted = 0;
  for (const file of largest) {
    if (inserted >= budget || file.size < 4096) break;
    const length = Math.min(Math.floor(file.size / 4), 256 * 1024, Math.ceil(budget - inserted));
    plan.insert.push({ path: file.path, at: random.below(file.size + 1), from: random.below(file.size - length + 1), length });
    inserted += length;
  }
  const edited = new Set(plan.insert.map((i) => i.path));
  const candidates = listing.files.filter((file) => !edited.has(file.path));
  const churn = Math.min(100, candidates.length);
  plan.delete = random.pickIndexes(churn, candidates.length).map((i) => (candidates[i] as TreeFile).path);
  const folders = listing.folders.length > 0 ? listing.folders : [''];
  for (let i = 0; i < churn; i++) {
    const folder = folders[random.below(folders.length)] as string;
    plan.add.push({ path: `${folder === '' ? '' : `${folder}/`}bench-mutation-${i}.txt`, size: 1024 + random.below(32 * 1024) });
  }
  return plan;
}

export async function applyTreeMutation(root: string, plan: TreeMutationPlan, seed = 'hindsight-bench-tree-mutation-bytes'): Promise<void> {
  const random = new Seeded(seed);
  for (const { path, at, from, length } of plan.insert) await insertSlice(join(root, path), at, from, length);
  for (const { path, size } of plan.add) await writeFile(join(root, path), random.bytes(Math.ceil((size * 3) / 4)).toString('base64').slice(0, size));
  for (const path of plan.delete) await rm(join(root, path));
}

/** Rewrites the file with a slice of itself inserted (files here are at most tens of MB, so whole in memory). */
async function insertSlice(path: string, at: number, from: number, length: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const data = await file.readFile();
    const slice = Buffer.from(data.subarray(from, from + length));
    await file.write(Buffer.concat([slice, data.subarray(at)]), 0, undefined, at);
  } finally {
    await file.close();
  }
}
