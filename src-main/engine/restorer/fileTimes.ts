/**
 * Node takes file times as float seconds and libuv truncates them to whole
 * microseconds. Aiming at the middle of the microsecond keeps float rounding
 * (about 0.24 µs at today's dates) from landing in the previous one, so a
 * restored time is exactly the saved time truncated to the microsecond.
 */
export function utimesSeconds(ns: bigint): number {
  // Whole microseconds are exact as a Number for ±285 years around 1970: one BigInt division (a BigInt
  // made per operation; a restore converts a time per file) instead of three.
  const totalMicros = Number(ns / 1000n);
  if (Number.isSafeInteger(totalMicros)) {
    const seconds = Math.floor(totalMicros / 1e6);
    return seconds + ((totalMicros - seconds * 1e6) * 1000 + 500) / 1e9;
  }
  const seconds = ns / 1_000_000_000n;
  const micros = (ns % 1_000_000_000n) / 1000n;
  return Number(seconds) + (Number(micros) * 1000 + 500) / 1e9;
}

/** Whether two times agree to the microsecond, the precision a restore can give. */
export function sameMicrosecond(a: bigint, b: bigint): boolean {
  return a / 1000n === b / 1000n;
}
