import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'minor' }) => void;

/**
 * V8's own collector, for the threads that decrypt blobs: made visible once, in a context of its own,
 * so no script of the engine's sees a global `gc`. Undefined where V8 refuses the flag.
 */
function exposeCollector(): Collect | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const collect: unknown = runInNewContext('gc');
    return typeof collect === 'function' ? (collect as Collect) : undefined;
  } catch {
    return undefined;
  }
}

const collect = exposeCollector();

/** Bytes decrypted between two collections, by default (see YoungGarbage). */
const BYTES_PER_COLLECTION = 1024 * 1024;

/**
 * Collects a thread's young generation after every MiB or so it has decrypted (by default). node:crypto returns a new
 * buffer for each piece it decrypts (see aead.openInto), and V8 frees a buffer only when its small
 * JavaScript object is collected: a thread that mostly decrypts fills its young generation slowly, and V8
 * starts a collection for buffers only once they hold 64 MB more. A restore's writer threads held 35–45
 * MB of such dead pieces each. Collected this often, where little else is young and a collection takes a
 * fraction of a millisecond, the pieces' memory is reused while it is still in the CPU's cache.
 *
 * Measured on a 2-core EPYC VM, alternating rounds: decrypting 1 GB in 1 MiB blobs, 0.40 s and 54 MB
 * resident against 0.46–0.55 s and 85 MB; restore of the 1 GiB benchmark set, peak RSS 254–257 -> 200–207
 * MB at 4.5–4.9 CPU-s against 4.6–6.2; check --read-data, peak RSS 201–228 -> 191–207 MB (the linux
 * tree's 83,330 mostly small blobs: 0.1 CPU-s more).
 *
 * The main thread of a backup seals every new chunk into its pack the same way (aead.sealInSlices: a new
 * 64 KiB buffer per slice), but has much else that is young, so it is collected every 8 MiB sealed: a first
 * backup of the 1 GiB benchmark set held 26 MB of dead slices at its peak (heaptrack). 3 alternating rounds
 * each, into tmpfs: 202-217 -> 190-203 MB peak RSS, 3.04-3.15 -> 2.96-3.09 s; every 2 MiB, no lower peak
 * and no faster; the gcc tree (few bytes to seal) the same within noise.
 *
 * Where the addon's cipher is in use (crypto/aead.ts) the cipher makes no buffers, but a decrypting thread
 * still makes young objects per blob: restore of the 1 GiB set, 5 alternating rounds with the addon, peak
 * RSS 176–193 MB (median 184) collecting every MiB, 188–202 (median 192) without, in the same time.
 */
export class YoungGarbage {
  private since = 0;

  constructor(private readonly bytesPerCollection = BYTES_PER_COLLECTION) {}

  /** Counts `bytes` more made by node:crypto, collecting once `bytesPerCollection` have been since the last time. */
  made(bytes: number): void {
    this.since += bytes;
    if (this.since < this.bytesPerCollection) return;
    this.since = 0;
    collect?.({ type: 'minor' });
  }
}
