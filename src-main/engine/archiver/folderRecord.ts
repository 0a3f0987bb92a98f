import { BLOB_ID_LENGTH } from '../crypto/blobId.js';

/**
 * What a backup learnt about one folder, for the next backup to take the folder's tree whole when
 * nothing in it moved (see BackupRun.folderTree): which listing it saw, the tree it saved for it, how
 * many of each kind of entry that tree holds, and each subfolder's tree.
 */
export interface FolderRecord {
  /** The folder's listing digest, salted with the backup's settings that shape a tree (see BackupRun.settingsOf). */
  readonly key: Buffer;
  readonly tree: Buffer;
  /** The tree's own files and their bytes, and its other entries (links, fifos, devices); its subfolders are in `children`. */
  readonly files: number;
  readonly bytes: number;
  readonly others: number;
  /** Every subfolder in the tree: its place in the listing, and its tree. `walked` is false for one left empty (another file system). */
  readonly children: readonly RecordedChild[];
  /** A hash of those settings alone (see BackupRun.settingsOf): undefined in records written before it was kept. */
  readonly settings?: Buffer;
  /**
   * Per entry of `tree`, in its order, the stamp of the lstat it was made from (statStamps, 8 bytes,
   * little-endian words) where the entry is a file's, else zeros: a backup that finds a file's stamp
   * unchanged in a folder that changed takes its entry as it is (see BackupRun.reusedEntries). Kept
   * only with `settings`; empty in records written before.
   */
  readonly stamps?: Buffer;
}

export interface RecordedChild {
  readonly index: number;
  readonly walked: boolean;
  readonly tree: Buffer;
}

/** key, tree, files (u32), bytes (f64), others (u32), child count (u32); then per child index (u32), walked (u8), tree; then settings, then stamps. */
const FIXED = 2 * BLOB_ID_LENGTH + 4 + 8 + 4 + 4;
const CHILD = 4 + 1 + BLOB_ID_LENGTH;
/** Bytes per entry's stamp. */
export const STAMP = 8;

export function encodeFolderRecord(record: FolderRecord): Buffer {
  const stamps = record.settings ? (record.stamps?.length ?? 0) : 0;
  const out = Buffer.allocUnsafe(FIXED + record.children.length * CHILD + (record.settings?.length ?? 0) + stamps);
  let at = record.key.copy(out, 0);
  at += record.tree.copy(out, at);
  at = out.writeUInt32LE(record.files, at);
  at = out.writeDoubleLE(record.bytes, at);
  at = out.writeUInt32LE(record.others, at);
  at = out.writeUInt32LE(record.children.length, at);
  for (const child of record.children) {
    at = out.writeUInt32LE(child.index, at);
    at = out.writeUInt8(child.walked ? 1 : 0, at);
    at += child.tree.copy(out, at);
  }
  if (record.settings) {
    at += record.settings.copy(out, at);
    record.stamps?.copy(out, at);
  }
  return out;
}

/** A record read back; one that does not parse is no record (the cache is only a shortcut). */
export function decodeFolderRecord(row: Buffer | undefined): FolderRecord | undefined {
  if (!row || row.length < FIXED) return undefined;
  const count = row.readUInt32LE(FIXED - 4);
  const end = FIXED + count * CHILD;
  const stamps = row.length - end - BLOB_ID_LENGTH;
  if (row.length !== end && (stamps < 0 || stamps % STAMP !== 0)) return undefined;
  const children: RecordedChild[] = [];
  for (let at = FIXED; at < end; at += CHILD) {
    children.push({ index: row.readUInt32LE(at), walked: row[at + 4] === 1, tree: row.subarray(at + 5, at + CHILD) });
  }
  return {
    key: row.subarray(0, BLOB_ID_LENGTH),
    tree: row.subarray(BLOB_ID_LENGTH, 2 * BLOB_ID_LENGTH),
    files: row.readUInt32LE(2 * BLOB_ID_LENGTH),
    bytes: row.readDoubleLE(2 * BLOB_ID_LENGTH + 4),
    others: row.readUInt32LE(2 * BLOB_ID_LENGTH + 12),
    children,
    ...(row.length > end ? { settings: row.subarray(end, end + BLOB_ID_LENGTH), stamps: row.subarray(end + BLOB_ID_LENGTH) } : {}),
  };
}
