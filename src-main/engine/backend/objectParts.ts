/** An object given in parts (`Backend.write`), regrouped for the requests of a remote store. */

/** One buffer from parts, copied only when there is more than one. */
export function gather(parts: readonly Uint8Array[]): Buffer {
  if (parts.length === 1) {
    const only = parts[0] as Uint8Array;
    return Buffer.from(only.buffer, only.byteOffset, only.byteLength);
  }
  const list: Uint8Array[] = [];
  for (let i = 0; i < parts.length; i++) list.push(parts[i] as Uint8Array);
  return Buffer.concat(list);
}

/** Regroups the caller's parts into upload parts of `size` bytes (the last one shorter), without copying. */
export function sliceParts(parts: readonly Uint8Array[], total: number, size: number): Uint8Array[][] {
  const slices: Uint8Array[][] = Array.from({ length: Math.ceil(total / size) }, () => []);
  let position = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as Uint8Array;
    let done = 0;
    while (done < part.byteLength) {
      const index = Math.floor(position / size);
      const take = Math.min(part.byteLength - done, (index + 1) * size - position);
      (slices[index] as Uint8Array[]).push(part.subarray(done, done + take));
      done += take;
      position += take;
    }
  }
  return slices;
}
