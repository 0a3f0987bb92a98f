import { hostname, userInfo } from 'node:os';
import type { Readable } from 'node:stream';
import type { Progress } from '../../../src-shared/progress.js';
import { HindsightError } from '../../../src-shared/errors.js';
import { Chunker } from '../chunker/fastCdc.js';
import { gearTable } from '../chunker/gearTable.js';
import { computeBlobId } from '../crypto/blobId.js';
import { ProgressMeter } from '../progressMeter.js';
import { compressBlob } from '../repository/blobCodec.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, saveSnapshot, type Snapshot } from '../snapshot/snapshot.js';
import { encodeTree, type TreeNode } from '../snapshot/tree.js';
import { BackupInterrupted } from './backup.js';
import { BlobSaver } from './blobSaver.js';

export interface StreamBackupOptions {
  /** The file name the stream is stored under, at the top of the snapshot (`/NAME`), as restic's --stdin-filename. */
  readonly filename: string;
  readonly input: Readable;
  /**
   * Settles once the producer has finished (a command's exit): a rejection fails the backup after the
   * stream has been read, and no snapshot is written. Absent for data piped in, which has no status.
   */
  readonly finished?: Promise<void>;
  readonly tags?: readonly string[];
  readonly host?: string;
  readonly onProgress?: (progress: Progress) => void;
  readonly signal?: AbortSignal;
}

/** Chunks saved concurrently: enough to overlap the dedup lookups with packing, little enough to bound memory (at most this many 8 MiB chunks). */
const CHUNKS_IN_FLIGHT = 4;

/**
 * Backs up one stream (a database dump, a VM image, anything piped in) as the file `/NAME` of a new
 * snapshot. The stream is cut with the same content-defined chunker as files, so a second dump that
 * is mostly the same as the first stores only the chunks around what changed. There is nothing to
 * stat, so nothing is skipped unread: every byte is chunked and hashed, and only chunks the repository
 * lacks are compressed and stored. The parent is the last snapshot of the same name on this host.
 */
export async function backupStream(repository: Repository, options: StreamBackupOptions): Promise<Snapshot> {
  const name = checkStreamName(options.filename);
  const started = Date.now();
  const host = options.host ?? hostname();
  const path = `/${name}`;
  const meter = new ProgressMeter('backup', options.onProgress);
  meter.counts.phase = 'backing up';
  meter.counts.currentPath = path;
  const saver = new BlobSaver(repository);
  const lock = await repository.lock(false);
  try {
    const parent = (await listSnapshots(repository)).filter((s) => s.host === host && s.paths.length === 1 && s.paths[0] === path).at(-1);
    await repository.reloadIndex();
    let content: Buffer[];
    let bytes: number;
    try {
      ({ content, bytes } = await saveStream(repository, saver, options, meter));
      await options.finished;
    } catch (err) {
      // What was stored stays indexed: a rerun of the same dump adds only what differs from it.
      await saver.flush().catch(() => undefined);
      if (options.signal?.aborted) throw new BackupInterrupted();
      throw err;
    }
    const now = BigInt(Date.now()) * 1_000_000n;
    const user = currentIds();
    const node: TreeNode = { name: Buffer.from(name), type: 'file', mode: 0o600, uid: user.uid, gid: user.gid, mtimeNs: now, ctimeNs: now, size: bytes, content };
    const tree = await saver.saveTree(encodeTree([node]));
    meter.counts.phase = 'finishing';
    meter.tick(true);
    await saver.flush();
    lock.assertHeld();
    const snapshot = await saveSnapshot(repository, {
      hindsight: 'snapshot',
      version: 1,
      time: new Date(started).toISOString(),
      host,
      username: user.name,
      paths: [path],
      tags: [...(options.tags ?? [])],
      type: 'full',
      ...(parent ? { parent: parent.id } : {}),
      tree: tree.toString('hex'),
      summary: {
        filesNew: parent ? 0 : 1,
        filesChanged: parent ? 1 : 0,
        filesUnchanged: 0,
        filesRead: 1,
        dirs: 0,
        otherEntries: 0,
        bytesRead: bytes,
        totalFiles: 1,
        totalBytes: bytes,
        bytesAdded: saver.stats.bytesAdded,
        dataBlobsAdded: saver.stats.dataBlobsAdded,
        treeBlobsAdded: saver.stats.treeBlobsAdded,
        warnings: 0,
        durationMs: Date.now() - started,
      },
    });
    meter.counts.phase = 'done';
    meter.counts.filesDone = 1;
    meter.tick(true);
    return snapshot;
  } finally {
    saver.releaseReserved();
    await lock.release().catch(() => undefined);
  }
}

/** The name a stream is stored under: one plain file name. */
export function checkStreamName(filename: string): string {
  if (filename === '' || filename === '.' || filename === '..' || filename.includes('/') || filename.includes('\0')) {
    throw new HindsightError('E_USAGE', `"${filename}" cannot name the stream in the snapshot: give a plain file name such as mydb.sql.`);
  }
  return filename;
}

/** Reads the stream to its end, cutting, hashing and saving its chunks in order; returns their ids and the byte count. */
async function saveStream(repository: Repository, saver: BlobSaver, options: StreamBackupOptions, meter: ProgressMeter): Promise<{ content: Buffer[]; bytes: number }> {
  const chunker = new Chunker(gearTable(repository.chunkerSeed), repository.config.chunker);
  const key = repository.blobIdKey;
  const level = repository.config.compression.level;
  const content: Buffer[] = [];
  const saving = new Set<Promise<void>>();
  let failure: unknown;
  /** Bytes of the chunk being cut, gathered from the blocks read so far. */
  let pending: Buffer[] = [];
  let bytes = 0;

  const save = async (chunk: Buffer): Promise<void> => {
    const id = computeBlobId(key, chunk);
    content.push(id);
    // Compressed only when new: a second dump's unchanged chunks cost a hash and a lookup.
    if (repository.hasBlob(id)) return;
    const task = saver.saveChunk(id, compressBlob(chunk, level), chunk.byteLength).catch((err: unknown) => {
      failure ??= err;
    });
    const tracked = task.finally(() => saving.delete(tracked));
    saving.add(tracked);
    while (saving.size >= CHUNKS_IN_FLIGHT) await Promise.race(saving);
    if (failure !== undefined) throw failure;
  };

  for await (const block of options.input as AsyncIterable<Buffer>) {
    options.signal?.throwIfAborted();
    let at = 0;
    for (const length of chunker.push(block)) {
      const have = pending.reduce((sum, b) => sum + b.byteLength, 0);
      const take = length - have;
      const chunk = Buffer.concat([...pending, block.subarray(at, at + take)], length);
      pending = [];
      at += take;
      await save(chunk);
    }
    // The chunk still open keeps its bytes; `block` is the stream's own buffer, not reused, so a view is safe.
    if (at < block.byteLength) pending.push(block.subarray(at));
    bytes += block.byteLength;
    meter.counts.bytesDone = bytes;
    meter.tick();
  }
  options.signal?.throwIfAborted();
  const last = chunker.finish();
  if (last > 0) await save(Buffer.concat(pending, last));
  await Promise.all(saving);
  if (failure !== undefined) throw failure;
  return { content, bytes };
}

function currentIds(): { name: string; uid: number; gid: number } {
  try {
    const info = userInfo();
    return { name: info.username, uid: info.uid, gid: info.gid };
  } catch {
    return { name: 'unknown', uid: 0, gid: 0 };
  }
}
