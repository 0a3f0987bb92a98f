/** The longest request path taken, in bytes as sent (percent-encoded); longer ones get 414. */
export const MAX_URL_BYTES = 8192;
/** The longest name taken in a path: what Linux, macOS and Windows allow (255 bytes or characters). */
const MAX_NAME_BYTES = 255;

/** A request path the mount refuses, with the status and a line saying why. */
export class BadPath extends Error {
  constructor(
    readonly status: 400 | 414,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The names along a request path, as raw bytes: percent-encoding can carry any byte, so a name that is
 * not UTF-8 is reached exactly as it was saved. Refused: `.` and `..` (as sent or encoded), an encoded
 * slash or NUL inside a name (no saved name holds one), a malformed escape, and over-long names or paths.
 * Empty segments (`a//b`, a trailing slash) are skipped, as file systems do.
 */
export function pathSegments(url: string): Buffer[] {
  if (url.length > MAX_URL_BYTES) throw new BadPath(414, 'request path too long');
  const path = url.split('?', 1)[0] as string;
  if (!path.startsWith('/')) throw new BadPath(400, 'request path must start with /');
  const segments: Buffer[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    const name = percentDecoded(raw);
    if (name.length > MAX_NAME_BYTES) throw new BadPath(414, 'name longer than 255 bytes');
    if (name.includes(0x2f) || name.includes(0)) throw new BadPath(400, 'encoded slash or NUL in a name');
    const text = name.toString('latin1');
    if (text === '.' || text === '..') throw new BadPath(400, '"." or ".." in the path');
    segments.push(name);
  }
  return segments;
}

function percentDecoded(raw: string): Buffer {
  const bytes: number[] = [];
  const text = Buffer.from(raw, 'utf8');
  for (let i = 0; i < text.length; i += 1) {
    const byte = text[i] as number;
    if (byte !== 0x25) {
      bytes.push(byte);
      continue;
    }
    const hex = text.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new BadPath(400, 'malformed percent-encoding');
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes);
}

/** Bytes as a path segment: everything but RFC 3986's unreserved characters percent-encoded. */
export function percentEncoded(name: Buffer): string {
  let out = '';
  for (const byte of name) {
    const unreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x2e || byte === 0x5f || byte === 0x7e;
    out += unreserved ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
