import { open, readFile } from 'node:fs/promises';
import ignore, { type Ignore } from 'ignore';
import { formatBytes } from '../../../src-shared/units.js';

export interface ExcludeOptions {
  /** gitignore-style patterns (from --exclude, --exclude-file and the defaults unless disabled). */
  readonly patterns: readonly string[];
  /** Skip the contents of folders holding a valid CACHEDIR.TAG (the folder and its tag are kept, as restic does). */
  readonly excludeCaches?: boolean;
  /** Files larger than this many bytes are skipped. */
  readonly excludeLargerThan?: number;
}

export interface ExcludeDecision {
  readonly excluded: boolean;
  readonly reason?: string;
}

const CACHEDIR_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';
const KEEP: ExcludeDecision = { excluded: false };

/**
 * Decides what a backup skips.
 *
 * Patterns follow .gitignore, matched against the path relative to the
 * backup source it was found under: `*.log` matches at any depth, `build/`
 * only folders, `/build` only at the top of the source, `**` any depth, and a
 * later `!pattern` re-includes. One extension: a pattern that starts with "/"
 * and has another "/" before its last character names an absolute location
 * ("/home/*\/.cache/") and is matched against the entry's absolute path, so the
 * same rule works whichever folder is being backed up.
 */
export class ExcludeRules {
  readonly excludeCaches: boolean;
  private readonly relative: Ignore;
  private readonly absolute: Ignore;
  private readonly hasAbsolute: boolean;
  private readonly largerThan: number | undefined;

  constructor(options: ExcludeOptions) {
    this.excludeCaches = options.excludeCaches ?? false;
    this.largerThan = options.excludeLargerThan;
    const absolute = options.patterns.filter(isAbsolutePattern);
    this.relative = ignore({ allowRelativePaths: true }).add(options.patterns.filter((p) => !isAbsolutePattern(p)));
    this.absolute = ignore({ allowRelativePaths: true }).add(absolute.map((p) => p.slice(1)));
    this.hasAbsolute = absolute.length > 0;
  }

  matchPath(relativePath: string, absolutePath: string, isDirectory: boolean): ExcludeDecision {
    const suffix = isDirectory ? '/' : '';
    if (relativePath !== '' && this.relative.ignores(clean(relativePath) + suffix)) return { excluded: true, reason: 'exclude pattern' };
    const absolute = clean(absolutePath);
    if (this.hasAbsolute && absolute !== '' && this.absolute.ignores(absolute + suffix)) return { excluded: true, reason: 'exclude pattern' };
    return KEEP;
  }

  matchSize(sizeBytes: number): ExcludeDecision {
    if (this.largerThan !== undefined && sizeBytes > this.largerThan) return { excluded: true, reason: `larger than ${formatBytes(this.largerThan)}` };
    return KEEP;
  }

  async isCacheDirectory(dirPath: string): Promise<boolean> {
    let file;
    try {
      file = await open(`${dirPath}/CACHEDIR.TAG`, 'r');
      const buffer = Buffer.alloc(CACHEDIR_SIGNATURE.length);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      return bytesRead === buffer.length && buffer.toString('latin1') === CACHEDIR_SIGNATURE;
    } catch {
      return false;
    } finally {
      await file?.close();
    }
  }

  /** One pattern per line; blank lines and lines starting with # are ignored. */
  static async readExcludeFile(path: string): Promise<string[]> {
    return (await readFile(path, 'utf8'))
      .split(/\r?\n/)
      .map((line) => line.trimEnd())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }
}

function isAbsolutePattern(pattern: string): boolean {
  return pattern.startsWith('/') && pattern.slice(1, -1).includes('/');
}

/** The `ignore` package wants relative paths without a leading "./" or "/". */
function clean(path: string): string {
  return path.replace(/^\/+/, '').replace(/^\.\//, '');
}
