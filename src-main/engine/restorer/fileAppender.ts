import { open, type FileHandle } from 'node:fs/promises';
import type { BufferPool } from '../bufferPool.js';
import { DIRECT_BLOCK, DirectWriter, writeAll } from '../directWrites.js';

/** A large restored file goes to the disk in stages of this size. */
export const RESTORE_STAGE_BYTES = 1024 * 1024;
/** Zeros staged as data around a hole, to keep stages on block boundaries (less than a block each side). */
const ZERO_BLOCK = Buffer.alloc(DIRECT_BLOCK);

/**
 * Writes a restored file front to back. Where the disk takes O_DIRECT (Linux), its bytes are gathered
 * into page-aligned stages that go to the disk around the page cache (`DirectWriter`): restoring a few
 * gigabytes does not push every other program's cached files out of memory, and the cache's own copy
 * of every byte is saved (this copy into the stage replaces it). The last, partial stage goes through
 * the cache. Elsewhere each piece is written as it comes.
 *
 * Zeros can be skipped instead of written (`skip`): they become a hole, which the file system reads as
 * zeros without storing them, so a sparse disk image is restored sparse. A file system without holes
 * stores the zeros instead (the final truncate extends the file with zeros), so the content is the same
 * everywhere.
 */
export class FileAppender {
  private stage: Buffer | undefined;
  private filled = 0;
  /** Bytes written to the file so far, through either descriptor, or skipped as a hole. */
  private written = 0;
  /** Whether a hole was left: the file is then truncated to its size at the end, in case it ends in one (a write there would need a byte). */
  private holes = false;

  private constructor(
    private readonly file: FileHandle,
    private direct: DirectWriter | undefined,
    private readonly stages: BufferPool,
  ) {}

  /** `file` is `path` opened for writing, created by this restore. */
  static async open(path: Buffer, file: FileHandle, stages: BufferPool): Promise<FileAppender> {
    return new FileAppender(file, await DirectWriter.open(path, file, open), stages);
  }

  async append(data: Uint8Array): Promise<void> {
    if (!this.direct) {
      this.written = await writeAll(this.file, [data], this.written);
      return;
    }
    for (let from = 0; from < data.byteLength; ) {
      this.stage ??= this.stages.take(RESTORE_STAGE_BYTES);
      const length = Math.min(data.byteLength - from, this.stage.length - this.filled);
      this.stage.set(data.subarray(from, from + length), this.filled);
      this.filled += length;
      from += length;
      if (this.filled === this.stage.length) await this.flush();
    }
  }

  /**
   * Appends `length` zeros as a hole. Stages stay on block boundaries (O_DIRECT takes nothing else), so the
   * zeros up to the next boundary and after the last whole block are staged as data, and only whole
   * blocks between are left out.
   */
  async skip(length: number): Promise<void> {
    if (!this.direct) {
      this.written += length;
      this.holes ||= length > 0;
      return;
    }
    const head = Math.min(length, (DIRECT_BLOCK - ((this.written + this.filled) % DIRECT_BLOCK)) % DIRECT_BLOCK);
    await this.append(ZERO_BLOCK.subarray(0, head));
    const hole = Math.floor((length - head) / DIRECT_BLOCK) * DIRECT_BLOCK;
    if (hole > 0) {
      if (this.filled > 0) await this.flush();
      this.written += hole;
      this.holes = true;
    }
    await this.append(ZERO_BLOCK.subarray(0, length - head - hole));
  }

  /** Writes what is still staged: the file then holds everything appended. Then `release`. */
  async finish(): Promise<void> {
    if (this.filled > 0) await this.flush();
    if (this.holes) await this.file.truncate(this.written);
    await this.release();
  }

  /** Gives the stage back and closes the O_DIRECT descriptor (the file stays open); after `finish`, or instead of it. */
  async release(): Promise<void> {
    if (this.stage) this.stages.give(this.stage);
    this.stage = undefined;
    this.filled = 0;
    const direct = this.direct;
    this.direct = undefined;
    await direct?.close();
  }

  /** Writes the stage; only called while there is one, which needs the O_DIRECT descriptor (see `append`). */
  private async flush(): Promise<void> {
    const bytes = (this.stage as Buffer).subarray(0, this.filled);
    this.written = await (this.direct as DirectWriter).writeAt(bytes, this.written, this.file);
    this.filled = 0;
  }
}
