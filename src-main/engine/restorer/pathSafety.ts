/**
 * A snapshot is untrusted input: whoever can write to the repository's
 * storage, or a bug, could put any name in a tree. A name is safe to create
 * only if it is one plain path component.
 */
export function unsafeNameReason(name: Buffer): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name.length > 255) return 'name longer than 255 bytes';
  if (name.includes(0x2f)) return 'name contains "/"';
  if (name.includes(0x00)) return 'name contains a NUL byte';
  if (name.equals(DOT) || name.equals(DOT_DOT)) return `name is "${name.toString()}"`;
  return undefined;
}

const DOT = Buffer.from('.');
const DOT_DOT = Buffer.from('..');
