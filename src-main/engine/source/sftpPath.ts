// Apart from sftpSource.ts, so that telling a remote path from a local one does not load ssh2 (about 80 ms
// of CPU and 13 MB at start-up, measured with `node -e "import('ssh2')"`), which a local backup never uses.

/** Whether a path given to back up names another machine's folder (sftp://USER@HOST[:PORT]/PATH). */
export function isSftpSource(path: string): boolean {
  return /^sftp:\/\//i.test(path);
}
