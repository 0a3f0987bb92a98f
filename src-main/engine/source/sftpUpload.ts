import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Stats } from 'ssh2';
import { HindsightError } from '../../../src-shared/errors.js';
import type { Warning } from '../../../src-shared/progress.js';
import { mapConcurrent } from '../concurrency.js';
import type { OverwritePolicy } from '../restorer/restore.js';
import { sftpCode, type SftpSession } from '../backend/sftpConnection.js';
import type { SftpSource } from './sftpSource.js';

export interface UploadOptions {
  readonly overwrite: OverwritePolicy;
  readonly onProblem?: (problem: Warning) => void;
  readonly signal?: AbortSignal;
}

export interface UploadResult {
  readonly files: number;
  readonly bytes: number;
  readonly dirs: number;
  readonly symlinks: number;
  /** Existing files left as they were (the overwrite policy). */
  readonly skipped: number;
  readonly problems: readonly Warning[];
}

const NO_SUCH_FILE = 2;
const WRITE_BLOCK = 256 * 1024;
const WRITES_AHEAD = 8;
const FILES_AT_ONCE = 8;
const TEMP_PREFIX = '.hindsight-restore-';

/**
 * Copies a restored folder (`from`, on this computer, written by restore with all its safety rules) into
 * the folder `to` on the SFTP source's machine, with the same rules there: nothing is written outside
 * `to`; an entry inside it that is a symbolic link is never followed (a folder or file of the tree whose
 * place holds a link is reported, not written through); files are written under a temporary name
 * created exclusively and renamed into place, so a file is never half-written under its name; links are
 * made after the files. Modes and modification times are set; owners are the SSH user's (as an
 * unprivileged restore leaves them). Names and link targets that are not UTF-8 cannot be carried.
 */
export async function uploadTree(source: SftpSource, from: string, to: string, options: UploadOptions): Promise<UploadResult> {
  const result = { files: 0, bytes: 0, dirs: 0, symlinks: 0, skipped: 0, problems: [] as Warning[] };
  const problem = (path: string, message: string) => {
    const warning = { path, message };
    result.problems.push(warning);
    options.onProblem?.(warning);
  };
  await makeTarget(source, to);
  const files: { local: Buffer; remote: string }[] = [];
  const links: { local: Buffer; remote: string }[] = [];
  /** Folders made or found, deepest last: their modes and times are set at the end, deepest first. */
  const folders: { local: Buffer; remote: string }[] = [];

  const walk = async (local: Buffer, remote: string): Promise<void> => {
    for (const entry of (await readdir(local, { withFileTypes: true, encoding: 'buffer' })).sort((a, b) => Buffer.compare(a.name, b.name))) {
      options.signal?.throwIfAborted();
      const localPath = Buffer.concat([local, Buffer.from('/'), entry.name]);
      const name = entry.name.toString();
      const remotePath = posix.join(remote, name);
      if (name.includes('\ufffd')) {
        problem(remotePath, 'not restored: its name is not UTF-8, which this SFTP client cannot carry');
        continue;
      }
      if (entry.isDirectory()) {
        const there = await remoteLstat(source, remotePath);
        if (there && !there.isDirectory()) {
          problem(remotePath, `not restored: a ${there.isSymbolicLink() ? 'symbolic link' : 'file'} of that name is in the way on the server (it is never followed or replaced by a folder)`);
          continue;
        }
        if (!there) await source.run((session) => session.call<void>((cb) => session.sftp.mkdir(remotePath, { mode: 0o700 }, cb)));
        folders.push({ local: localPath, remote: remotePath });
        result.dirs += 1;
        await walk(localPath, remotePath);
      } else if (entry.isFile()) files.push({ local: localPath, remote: remotePath });
      else if (entry.isSymbolicLink()) links.push({ local: localPath, remote: remotePath });
      else problem(remotePath, 'not restored: SFTP cannot make FIFOs or device files');
    }
  };
  await walk(Buffer.from(from), to);

  await mapConcurrent(files, FILES_AT_ONCE, async ({ local, remote }) => {
    options.signal?.throwIfAborted();
    const stat = await lstat(local, { bigint: true });
    const there = await remoteLstat(source, remote);
    if (there && !there.isFile()) return problem(remote, `not restored: a ${there.isSymbolicLink() ? 'symbolic link' : 'folder'} of that name is in the way on the server`);
    const sameSecond = there !== undefined && BigInt(there.mtime) === stat.mtimeNs / 1_000_000_000n && BigInt(there.size) === stat.size;
    if (there && (options.overwrite === 'never' || (options.overwrite === 'if-changed' && sameSecond))) {
      result.skipped += 1;
      return;
    }
    result.bytes += await source.run((session) => uploadFile(session, local, remote, stat.mode, stat.mtimeNs));
    result.files += 1;
  });

  for (const { local, remote } of links) {
    const target = (await readlink(local, { encoding: 'buffer' })).toString();
    if (target.includes('\ufffd')) {
      problem(remote, 'not restored: its target is not UTF-8, which this SFTP client cannot carry');
      continue;
    }
    const there = await remoteLstat(source, remote);
    if (there?.isDirectory()) {
      problem(remote, 'not restored: a folder of that name is in the way on the server');
      continue;
    }
    if (there && options.overwrite === 'never') {
      result.skipped += 1;
      continue;
    }
    await source.run(async (session) => {
      if (there) await session.call<void>((cb) => session.sftp.unlink(remote, cb));
      await session.call<void>((cb) => session.sftp.symlink(target, remote, cb));
    });
    result.symlinks += 1;
  }

  for (const { local, remote } of folders.reverse()) {
    const stat = await lstat(local, { bigint: true });
    const mtime = Number(stat.mtimeNs / 1_000_000_000n);
    await source.run((session) => session.call<void>((cb) => session.sftp.setstat(remote, { mode: Number(stat.mode & 0o7777n), atime: mtime, mtime }, cb)));
  }
  return result;
}

/** Makes the target folder (and the folders above it) if missing; it must be a folder. */
async function makeTarget(source: SftpSource, to: string): Promise<void> {
  const parts = to.split('/').filter((part) => part !== '');
  let path = '';
  for (const part of parts) {
    path += `/${part}`;
    const there = await source.run((session) => session.call<Stats>((cb) => session.sftp.stat(path, cb))).catch((err: unknown) => {
      if (sftpCode(err) === NO_SUCH_FILE) return undefined;
      throw err;
    });
    if (!there) await source.run((session) => session.call<void>((cb) => session.sftp.mkdir(path, cb)));
    else if (!there.isDirectory()) throw new HindsightError('E_USAGE', `Cannot restore into ${path} on ${source.location}: it is not a folder.`);
  }
}

async function remoteLstat(source: SftpSource, path: string): Promise<Stats | undefined> {
  return source.run((session) => session.call<Stats>((cb) => session.sftp.lstat(path, cb))).catch((err: unknown) => {
    if (sftpCode(err) === NO_SUCH_FILE) return undefined;
    throw err;
  });
}

/** Writes one file under a temporary name beside its place (created exclusively), sets its mode and times, and renames it into place. */
async function uploadFile(session: SftpSession, local: Buffer, remote: string, mode: bigint, mtimeNs: bigint): Promise<number> {
  const temp = posix.join(posix.dirname(remote), TEMP_PREFIX + randomBytes(6).toString('hex'));
  const file = await open(local, 'r');
  const handle = await session.call<Buffer>((cb) => session.sftp.open(temp, 'wx', { mode: 0o600 }, cb));
  let written = 0;
  try {
    const size = (await file.stat()).size;
    const offsets = Array.from({ length: Math.ceil(size / WRITE_BLOCK) }, (_, i) => i * WRITE_BLOCK);
    await mapConcurrent(offsets, WRITES_AHEAD, async (offset) => {
      const buffer = Buffer.allocUnsafe(Math.min(WRITE_BLOCK, size - offset));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
      await session.call<void>((cb) => session.sftp.write(handle, buffer, 0, bytesRead, offset, cb));
      written += bytesRead;
    });
    const mtime = Number(mtimeNs / 1_000_000_000n);
    await session.call<void>((cb) => session.sftp.fsetstat(handle, { mode: Number(mode & 0o7777n), atime: mtime, mtime }, cb));
  } catch (err) {
    await session.call<void>((cb) => session.sftp.close(handle, cb)).catch(() => undefined);
    await session.call<void>((cb) => session.sftp.unlink(temp, cb)).catch(() => undefined);
    throw err;
  } finally {
    await file.close();
  }
  await session.call<void>((cb) => session.sftp.close(handle, cb));
  await session.call<void>((cb) => session.sftp.ext_openssh_rename(temp, remote, cb));
  return written;
}
