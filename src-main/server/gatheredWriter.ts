import type { Backend, ObjectHandle, ObjectWriter } from '../engine/backend/backend.js';

/**
 * An upload for a backend that takes objects only whole (a REST server, SFTP, Azure): its pieces are
 * gathered in memory and written in one call at the commit, so nothing of it is visible before. The
 * server's --max-upload bounds what one upload may hold.
 */
export function gatheredWriter(backend: Backend, handle: ObjectHandle): ObjectWriter {
  let parts: Buffer[] | undefined = [];
  return {
    append: async (data) => void parts?.push(Buffer.from(data)),
    commit: async () => {
      if (parts) await backend.write(handle, parts);
      parts = undefined;
    },
    abort: async () => {
      parts = undefined;
    },
  };
}
