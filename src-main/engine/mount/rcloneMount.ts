import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFile, readdir, realpath } from 'node:fs/promises';
import { HindsightError } from '../../../src-shared/errors.js';

/**
 * rclone's fixed key for "obscuring" passwords in its config and variables (its lib/obscure). Not a
 * secret and not encryption: rclone only reads the password in this form, and computing it here keeps
 * the password off every command line (`rclone obscure PASSWORD` would show it in the process list).
 */
const RCLONE_OBSCURE_KEY = Buffer.from('9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638', 'hex');

export function rcloneObscured(password: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', RCLONE_OBSCURE_KEY, iv);
  return Buffer.concat([iv, cipher.update(password, 'utf8'), cipher.final()]).toString('base64url');
}

export interface FuseMountOptions {
  /** The WebDAV server to mount (http://127.0.0.1:PORT/). */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** An empty folder. */
  readonly mountpoint: string;
  /** Default "rclone" on the PATH. */
  readonly rcloneProgram?: string;
}

export interface FuseMount {
  readonly mountpoint: string;
  /** Resolves when rclone exits (after an unmount, or on its own: `fusermount -u` from outside). */
  readonly exited: Promise<void>;
  unmount(): Promise<void>;
}

/** How long rclone has to mount, and to unmount and exit when asked. */
const MOUNT_WAIT_MS = 20_000;
const UNMOUNT_WAIT_MS = 10_000;

/**
 * Mounts the mount's WebDAV server as a folder with FUSE, through `rclone mount` (Linux). Chosen over a
 * FUSE binding for Node: those (fuse-native, node-fuse-bindings) are unmaintained, need libfuse 2 and a
 * compiler at install, and would be a second way into the snapshots; rclone is maintained, already what
 * Hindsight uses for `rclone:` targets, mounts with fuse3's fusermount3 without root, and reads through
 * the same WebDAV server every other client uses, so ranges, verification and limits are the same.
 * rclone runs read-only without its file cache (`--vfs-cache-mode off`): every read is a ranged GET.
 */
export async function mountWithRclone(options: FuseMountOptions): Promise<FuseMount> {
  const mountpoint = await checkedMountpoint(options.mountpoint);
  const program = options.rcloneProgram ?? 'rclone';
  const child = spawn(
    program,
    // Few retries: the server is on this machine and the repository's own reads retry what is passing,
    // so a 500 is a damaged chunk, and rclone's ten retries with backoff (for each read the kernel
    // sends) held a read of it for many minutes before the I/O error.
    ['mount', ':webdav:', mountpoint, '--read-only', '--vfs-cache-mode', 'off', '--dir-cache-time', '10s', '--attr-timeout', '10s', '--low-level-retries', '1', '--log-level', 'NOTICE'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        // An empty config: the user's own rclone.conf has nothing to do with this mount.
        RCLONE_CONFIG: '/dev/null',
        RCLONE_WEBDAV_URL: options.url,
        RCLONE_WEBDAV_VENDOR: 'other',
        RCLONE_WEBDAV_USER: options.username,
        RCLONE_WEBDAV_PASS: rcloneObscured(options.password),
      },
    },
  );
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const lastLine = () => log.trim().split('\n').pop() ?? '';

  const deadline = Date.now() + MOUNT_WAIT_MS;
  while (!(await isMounted(mountpoint))) {
    const failed = await Promise.race([spawnError, exited.then(() => 'exited' as const), sleep(100).then(() => undefined)]);
    if (failed instanceof Error) {
      throw new HindsightError('E_FUSE', (failed as NodeJS.ErrnoException).code === 'ENOENT' ? `"${program}" was not found: install rclone (and fuse3) to mount as a folder, or connect to the WebDAV address instead.` : failed.message);
    }
    if (failed === 'exited') throw new HindsightError('E_FUSE', `rclone could not mount ${mountpoint}: ${lastLine() || `it exited with status ${child.exitCode}`}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new HindsightError('E_FUSE', `rclone did not mount ${mountpoint} within ${MOUNT_WAIT_MS / 1000} s: ${lastLine()}`);
    }
  }

  let unmounting: Promise<void> | undefined;
  const unmount = () =>
    (unmounting ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // rclone unmounts and exits on SIGTERM.
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(UNMOUNT_WAIT_MS)]);
      }
      if (await isMounted(mountpoint)) {
        // Still there (rclone hung, or was killed): lazy unmount, as rclone itself would.
        for (const tool of ['fusermount3', 'fusermount']) if (spawnSync(tool, ['-u', '-z', mountpoint]).status === 0) break;
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    })());
  return { mountpoint, exited, unmount };
}

async function checkedMountpoint(path: string): Promise<string> {
  let resolved: string;
  let entries: string[];
  try {
    resolved = await realpath(path);
    entries = await readdir(resolved);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HindsightError('E_FUSE', code === 'ENOENT' ? `${path} does not exist: create an empty folder to mount on.` : code === 'ENOTDIR' ? `${path} is not a folder.` : `${path}: ${(err as Error).message}`);
  }
  if (entries.length > 0) throw new HindsightError('E_FUSE', `${path} is not empty: mount on an empty folder, so nothing of yours is hidden under the mount.`);
  return resolved;
}

/** Whether a FUSE file system is mounted at `mountpoint` (an absolute real path), from /proc/self/mountinfo. */
export async function isMounted(mountpoint: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  // Field 5 is the mount point, with spaces and the like as octal escapes; the type follows " - ".
  const escaped = mountpoint.replace(/[ \t\n\\]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return table.split('\n').some((line) => {
    const fields = line.split(' ');
    return fields[4] === escaped && /^fuse/.test(line.split(' - ')[1] ?? '');
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
