const SLASH = Buffer.from('/');

/** The path of `name` inside `folder`, as bytes (a name need not be UTF-8); the root folder gets no second slash. */
export function childPath(folder: Buffer, name: Buffer): Buffer {
  return folder.length === 1 && folder[0] === SLASH[0] ? Buffer.concat([SLASH, name]) : Buffer.concat([folder, SLASH, name]);
}
