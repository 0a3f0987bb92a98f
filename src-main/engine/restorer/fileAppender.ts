import { ftruncateSync, writeSync } from 'node:fs';
import { DIRECT_BLOCK, DirectWriter } from '../directWrites.js';

/** A large restored file goes to the disk in stages of this size. */
export const RESTORE_STAGE_BYTES = 1024 * 1024;
/** Zeros staged as data around a hole, to keep stages on block boundaries (less than a block each side). */
const ZERO_BLOCK = new Uint8Array(DIRECT_BLOCK);

/** Writes all of `bytes` at `position` of `fd`, however many calls that takes; returns the position after them. */
export function writeFully(fd: number, bytes: Uint8Array, position: number): number {
  for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
  return position + bytes.byteLength;
}

/**
 * Writes a restored file front to back, with synchronous calls (a writer thread's: see fileWriter).
 * Given a second descriptor opened with O_DIRECT (Linux) and a page-aligned stage, its bytes are
 * gathered into the stage and go to the disk around the page cache: restoring a few gigabytes does not
 * push every other program's cached files out of memory, and the cache's own copy of every byte is
 * saved (this copy into the stage replaces it). The last, partial stage goes through the cache, and so
 * does everything where the O_DIRECT write is refused. Without them each piece is written as it comes.
 *
 * Zeros can be skipped instead of written (`skip`): they become a hole, which the file system reads as
 * zeros without storing them, so a sparse disk image is restored sparse. A file system without holes
 * stores the zeros instead (the final truncate extends the file with zeros), so the content is the same
 * everywhere.
 */
export class FileAppender {
  private filled = 0;
  /** Bytes written to the file so far, through either descriptor, or skipped as a hole. */
  private written = 0;
  /** Whether a hole was left: the file is then truncated to its size at the end, in case it ends in one (a write there would need a byte). */
  private holes = false;

  /**
   * `fd`: the file, open for writing, created by this restore. `direct`: the same file opened with
   * O_DIRECT (DirectWriter.openUncached), with `stage` to gather its bytes in; both or neither.
   */
  constructor(
    private readonly fd: number,
    private direct: number | undefined,
    private readonly stage: Uint8Array | undefined,
  ) {
    if (!stage) this.direct = undefined;
  }

  /** Bytes appended or skipped so far. */
  get size(): number {
    return this.written + this.filled;
  }

  append(data: Uint8Array): void {
    if (this.direct === undefined || !this.stage) {
      this.written = writeFully(this.fd, data, this.written);
      return;
    }
    for (let from = 0; from < data.byteLength; ) {
      const length = Math.min(data.byteLength - from, this.stage.byteLength - this.filled);
      this.stage.set(data.subarray(from, from + length), this.filled);
      this.filled += length;
      from += length;
      if (this.filled === this.stage.byteLength) this.flush();
    }
  }

  /**
   * Appends `length` zeros as a hole. Stages stay on block boundaries (O_DIRECT takes nothing else), so the
   * zeros up to the next boundary and after the last whole block are staged as data, and only whole
   * blocks between are left out.
   */
  skip(length: number): void {
    if (this.direct === undefined) {
      if (this.filled > 0) this.flush();
      this.written += length;
      this.holes ||= length > 0;
      return;
    }
    const head = Math.min(length, (DIRECT_BLOCK - (this.size % DIRECT_BLOCK)) % DIRECT_BLOCK);
    this.append(ZERO_BLOCK.subarray(0, head));
    const hole = Math.floor((length - head) / DIRECT_BLOCK) * DIRECT_BLOCK;
    if (hole > 0) {
      if (this.filled > 0) this.flush();
      this.written += hole;
      this.holes = true;
    }
    this.append(ZERO_BLOCK.subarray(0, length - head - hole));
  }

  /** Writes what is still staged: the file then holds everything appended. Returns its size. */
  finish(): number {
    if (this.filled > 0) this.flush();
    if (this.holes) ftruncateSync(this.fd, this.written);
    return this.written;
  }

  /**
   * Writes the stage: whole blocks around the cache, what O_DIRECT leaves (a partial block, a short
   * write) through the cache. EINVAL is the kernel refusing the memory or the file system's block size;
   * the rest of the file then goes through the cache, sparing a refused call per stage.
   */
  private flush(): void {
    const bytes = (this.stage as Uint8Array).subarray(0, this.filled);
    let direct = 0;
    if (this.direct !== undefined && DirectWriter.fits(this.written, bytes.byteLength)) {
      try {
        direct = writeSync(this.direct, bytes, 0, bytes.byteLength, this.written);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        this.direct = undefined;
      }
    }
    this.written = writeFully(this.fd, bytes.subarray(direct), this.written + direct);
    this.filled = 0;
  }
}
