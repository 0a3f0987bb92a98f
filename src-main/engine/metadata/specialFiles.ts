import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { HindsightError } from '../../../src-shared/errors.js';
import type { NodeType } from '../snapshot/tree.js';

const run = promisify(execFile);

/** A FIFO or device file could not be created; the message says why, for a person. */
export class SpecialFileError extends HindsightError {}

const DEVICE_TYPE: Partial<Record<NodeType, string>> = { chardev: 'c', blockdev: 'b' };

/**
 * A device number's major and minor parts, as the platform packs them: glibc's 64-bit encoding on
 * Linux (makedev), 8 and 24 bits on macOS and the BSDs.
 */
export function deviceNumbers(rdev: bigint): { major: bigint; minor: bigint } {
  if (process.platform === 'linux') {
    return { major: ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn), minor: (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn) };
  }
  return { major: (rdev >> 24n) & 0xffn, minor: rdev & 0xffffffn };
}

/**
 * Creates a FIFO or a device file at `path`, which must not exist; the caller sets its mode, owner and
 * times. Node has no mkfifo or mknod and no maintained package offers them, so this runs the system's
 * `mkfifo` or `mknod` (coreutils on Linux, the base system on macOS): about a millisecond, paid only
 * for these rare entries, never per regular file.
 */
export async function createSpecialFile(path: Buffer, type: NodeType, rdev: bigint | undefined): Promise<void> {
  const device = DEVICE_TYPE[type];
  if (type !== 'fifo' && device === undefined) throw new SpecialFileError('E_SPECIAL_TYPE', `${type} entries are not recreated`);
  if (process.platform === 'win32') throw new SpecialFileError('E_SPECIAL_PLATFORM', `Windows has no ${type === 'fifo' ? 'FIFOs' : 'device files'}`);
  if (device !== undefined && process.getuid?.() !== 0) throw new SpecialFileError('E_SPECIAL_ROOT', 'only root can create device files');
  if (device !== undefined && rdev === undefined) throw new SpecialFileError('E_SPECIAL_DEVICE', 'the snapshot does not say which device it is');
  const text = path.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(path)) throw new SpecialFileError('E_SPECIAL_PATH', 'its path is not valid UTF-8, which mkfifo and mknod cannot be given');
  const [program, args] = device === undefined ? ['mkfifo', ['--', text]] : ['mknod', ['--', text, device, ...Object.values(deviceNumbers(rdev as bigint)).map(String)]];
  try {
    await run(program, args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new SpecialFileError('E_SPECIAL_CREATE', stderr ? stderr.replace(/^\w+: /, '') : (err as Error).message);
  }
}
