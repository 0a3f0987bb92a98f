/**
 * One HTTP byte range ("bytes=A-B", "bytes=A-", "bytes=-N") of an object of `size` bytes, as the half-open
 * [start, end); 'unsatisfiable' when it starts past the end (416), undefined when it is not one range at
 * all (several ranges included: no REST client asks for them).
 */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // The last N bytes.
    const count = Number(last);
    if (!Number.isSafeInteger(count)) return undefined;
    if (count === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - count), end: size };
  }
  const start = Number(first);
  const end = last === '' ? size : Number(last) + 1;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size) };
}
