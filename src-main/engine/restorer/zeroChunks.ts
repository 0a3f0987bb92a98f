/** Ids remembered: chunks of zeros mostly have the one length the chunker cuts zeros at, and files' ends others. */
const IDS = 64;

/**
 * Which chunks of a restore hold only zeros, so a file's runs of zeros become holes (FileAppender.skip)
 * and the chunk is not even read again: a 10 GB sparse disk image is some 1,280 references to one
 * chunk of 8 MiB of zeros, each read, decrypted, decompressed and hashed before. A chunk is known by its
 * id once it has been loaded and found to be zeros (a memcmp that stops at the first byte that is not,
 * at once for ordinary data, made by the writer thread that opened it).
 */
export class ZeroChunks {
  private readonly lengths = new Map<string, number>();

  /** The length of the chunk `id` if it is known to hold only zeros. */
  lengthOf(id: Buffer): number | undefined {
    return this.lengths.get(id.toString('hex'));
  }

  /** Remembers chunk `id`, of `length` bytes, as holding only zeros. */
  remember(id: Buffer, length: number): void {
    if (this.lengths.size >= IDS) this.lengths.clear();
    this.lengths.set(id.toString('hex'), length);
  }
}
