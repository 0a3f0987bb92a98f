import { constants } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import ignore, { type Ignore } from 'ignore';
import { formatBytes } from '../../../src-shared/units.js';

/*
 * What a backup leaves out.
 *
 * Patterns follow .gitignore (the `ignore` package) and are matched against
 * the entry's path relative to the backup source it was found under: `*.log`
 * matches at any depth, `build/` only folders, `/build` and `docs/tmp` only
 * from the top of the source, `**` any number of folders, and a later
 * `!pattern` brings back what an earlier one excluded. As in git, nothing
 * inside an excluded folder can be brought back.
 *
 * Absolute patterns: a pattern that starts with "/" and has another "/"
 * before its last character ("/home/alice/.cache/", "/var/lib/docker/") is
 * matched against the entry's absolute path instead, from the top of the
 * file system, so it means the same place whichever folder is backed up. A
 * "!" in front keeps the pattern absolute. One-name anchors ("/build",
 * "/build/") stay relative, as in .gitignore; to name a place relative to the
 * source with more than one name, leave out the leading "/" ("docs/tmp").
 * Relative and absolute patterns are two lists: an entry is excluded when
 * either list excludes it, and a "!" only undoes patterns of its own list.
 * A Windows drive letter is not part of the match: "/Users/bo/Videos/" holds
 * on every drive.
 *
 * Case: ignored on macOS and Windows, whose file systems usually ignore it,
 * and respected elsewhere; git's core.ignorecase does the same.
 */

export interface ExcludeOptions {
  /** gitignore-style patterns (from --exclude, --exclude-file, and the defaults unless disabled). */
  readonly patterns: readonly string[];
  /** Skip the contents of folders holding a valid CACHEDIR.TAG; the folder and its tag are kept, as restic does. */
  readonly excludeCaches?: boolean;
  /** Files larger than this many bytes are skipped (directories are never skipped by size). */
  readonly excludeLargerThan?: number;
}

export interface ExcludeDecision {
  readonly excluded: boolean;
  readonly reason?: string;
}

/** https://bford.info/cachedir/ */
export const CACHEDIR_SIGNATURE = Buffer.from('Signature: 8a477f597d28d172789f06886806bc55', 'latin1');
const KEEP: ExcludeDecision = { excluded: false };
const IGNORE_CASE = process.platform === 'darwin' || process.platform === 'win32';
/**
 * `ignore` remembers its answer for every path it is asked about, and never
 * forgets: 1 million paths held 160 MB. Starting a fresh matcher this often
 * bounds that, at the cost of re-testing the current folder's parents.
 */
const PATHS_PER_MATCHER = 10_000;

export class ExcludeRules {
  readonly excludeCaches: boolean;
  private readonly relative: PatternList;
  private readonly absolute: PatternList;
  private readonly largerThan: number | undefined;

  constructor(options: ExcludeOptions) {
    this.excludeCaches = options.excludeCaches ?? false;
    this.largerThan = options.excludeLargerThan;
    this.relative = new PatternList(options.patterns.filter((pattern) => !isAbsolutePattern(pattern)));
    this.absolute = new PatternList(options.patterns.filter(isAbsolutePattern));
  }

  /**
   * `relativePath` is the entry's path below the backup source it was found
   * under ("docs/report.txt"); `absolutePath` its full path. Both use "/".
   * Never called for the source itself.
   */
  matchPath(relativePath: string, absolutePath: string, isDirectory: boolean): ExcludeDecision {
    const pattern = this.relative.match(relativePath, isDirectory) ?? this.absolute.match(absolutePath.replace(/^[A-Za-z]:(?=\/)/, ''), isDirectory);
    return pattern === undefined ? KEEP : { excluded: true, reason: `pattern "${pattern}"` };
  }

  matchSize(sizeBytes: number): ExcludeDecision {
    if (this.largerThan === undefined || sizeBytes <= this.largerThan) return KEEP;
    return { excluded: true, reason: `larger than ${formatBytes(this.largerThan)}` };
  }

  /**
   * Whether `dirPath` holds a valid CACHEDIR.TAG, so that everything in it
   * but the tag is to be skipped. The tag must be a regular file of its own:
   * a symlink is not followed, and a pipe with that name is not waited on,
   * which would stall the backup.
   */
  isCacheDirectory(dirPath: string): Promise<boolean> {
    return isCacheDirectory(dirPath);
  }

  /**
   * One pattern a line; blank lines and lines starting with "#" are skipped,
   * trailing white space is trimmed (so "\ " cannot keep a trailing space),
   * and a byte order mark or CRLF line ends, as Windows editors write, are
   * accepted.
   */
  static async readExcludeFile(path: string): Promise<string[]> {
    return (await readFile(path, 'utf8'))
      .replace(/^\uFEFF/, '')
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }
}

/** "/home/alice/.cache/", "!/srv/www/tmp": a leading "/" and another "/" before the last character. */
function isAbsolutePattern(pattern: string): boolean {
  const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  return body.startsWith('/') && body.slice(1, -1).includes('/');
}

/**
 * A test that every path one of `patterns` could exclude passes, or undefined when a pattern is too
 * intricate to tell. For `ignore` to exclude a path, a pattern that is not a "!" must match the path or
 * one of its folders, and then the pattern's last name (its last but trailing "**") matches one of the
 * path's names. So a path none of whose names any last name matches is kept, and `ignore` need not be
 * asked: the defaults' last names are literal or simple globs, and one regular expression over the path
 * rules out all but a few paths. The GCC tree's 121,171 paths against the defaults: 190-285 ms with
 * `ignore` alone (3-6% of a first backup's main thread, perf), 29-53 ms with this test first. Names with "[", "\\" or trailing spaces are left to `ignore`.
 */
export function possibleExclusions(patterns: readonly string[], ignoreCase = IGNORE_CASE): RegExp | undefined {
  const names: string[] = [];
  for (const pattern of patterns) {
    if (pattern.startsWith('!') || pattern.startsWith('#') || pattern.trim() === '') continue;
    const segments = pattern.split('/').filter((segment) => segment !== '');
    while (segments[segments.length - 1] === '**') segments.pop();
    const last = segments[segments.length - 1];
    if (last === undefined || /[[\\]|\s$/.test(last)) return undefined;
    names.push(last.replace(/[.+^${}()|]/g, '\\$&').replace(/\*+/g, '[^/]*').replace(/\?/g, '[^/]'));
  }
  if (names.length === 0) return undefined;
  return new RegExp(`(?:^|/)(?:${names.join('|')})(?:/|$)`, ignoreCase ? 'i' : '');
}

/** One list of patterns, matched with gitignore rules against paths given relative to where the list applies. */
class PatternList {
  private readonly rules: Ignore | undefined;
  private readonly mayExclude: RegExp | undefined;
  private matcher: Ignore | undefined;
  private answered = 0;

  constructor(patterns: readonly string[]) {
    if (patterns.length === 0) return;
    this.rules = ignore({ ignorecase: IGNORE_CASE }).add(patterns);
    this.mayExclude = possibleExclusions(patterns);
  }

  /** The pattern that excludes `path`, if any. */
  match(path: string, isDirectory: boolean): string | undefined {
    if (this.rules === undefined) return undefined;
    // `ignore` wants a path relative to where its rules apply, and an absolute
    // path starts with "/". No name is "" or ".", so stripping "/" and "./"
    // from the front changes no name.
    const relative = path.replace(/^(?:\.?\/)+/, '');
    if (relative === '' || this.mayExclude?.test(relative) === false) return undefined;
    if (this.matcher === undefined || this.answered >= PATHS_PER_MATCHER) {
      // Adding one `Ignore` to another shares its compiled rules, so a fresh matcher costs next to nothing.
      this.matcher = ignore({ ignorecase: IGNORE_CASE, allowRelativePaths: true }).add(this.rules);
      this.answered = 0;
    }
    this.answered += 1;
    // `ignore` tells a folder from a file by a trailing "/".
    return this.matcher.test(isDirectory ? `${relative}/` : relative).rule?.pattern;
  }
}

/** Whether the local folder `dirPath` holds a valid CACHEDIR.TAG (see ExcludeRules.isCacheDirectory). */
export async function isCacheDirectory(dirPath: string): Promise<boolean> {
  let file: FileHandle | undefined;
  try {
    file = await open(`${dirPath}/CACHEDIR.TAG`, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    if (!(await file.stat()).isFile()) return false;
    const head = Buffer.alloc(CACHEDIR_SIGNATURE.length);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return bytesRead === head.length && head.equals(CACHEDIR_SIGNATURE);
  } catch {
    return false;
  } finally {
    await file?.close();
  }
}
