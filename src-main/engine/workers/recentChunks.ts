/**
 * The ids of the last chunks a file worker sent with their content, so that a repeat (the zeros of a
 * disk image, the same block throughout a database file) goes as its id alone: neither compressed nor
 * copied into the ring again, only for the main thread to find it reserved and drop it. A 4 GiB file of
 * zeros is 512 equal chunks of 8 MiB; each was compressed (zstd, 8% of the backup's CPU samples) and
 * copied.
 *
 * Sending a repeat as an id is what the main thread does with it anyway: the first copy's message comes
 * before the repeat's (a worker's messages arrive in order) and reserves the id as it is handed to the
 * packer. If saving that first copy fails, its own file's read rejects, which fails the whole backup, so
 * no snapshot names a chunk that was never stored.
 *
 * Least recently seen first out: a repeat refreshes its place, so the zero chunk stays in however many
 * other chunks come between two runs of zeros.
 */
export class RecentChunks {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  /** Whether `id` was added and is still remembered; if so it becomes the most recent. */
  has(id: string): boolean {
    if (!this.ids.delete(id)) return false;
    this.ids.add(id);
    return true;
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
}
