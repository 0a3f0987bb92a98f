/** Compared with memcmp: a loop over the bytes in JavaScript runs at a tenth of its speed. */
const ZEROS = Buffer.alloc(64 * 1024);

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Whether every byte is zero; stops at the first piece that is not. */
export function isAllZeros(bytes: Uint8Array): boolean {
  const buffer = asBuffer(bytes);
  for (let at = 0; at < buffer.byteLength; at += ZEROS.byteLength) {
    const end = Math.min(buffer.byteLength, at + ZEROS.byteLength);
    if (buffer.compare(ZEROS, 0, end - at, at, end) !== 0) return false;
  }
  return true;
}

/**
 * The end of the run of zeros that starts at `from`, looked for up to `to`: pieces are compared with a
 * zero buffer, halving after a mismatch, so a long run costs one memcmp per 64 KiB and finding its exact
 * end about 16 more.
 */
export function zeroRunEnd(bytes: Uint8Array, from: number, to: number): number {
  const buffer = asBuffer(bytes);
  let at = from;
  for (let piece = ZEROS.byteLength; piece > 0; ) {
    if (at + piece <= to && buffer.compare(ZEROS, 0, piece, at, at + piece) === 0) at += piece;
    else piece >>= 1;
  }
  return at;
}
