/**
 * What a desktop backup skips unless the user says otherwise: data that
 * rebuilds itself, data already thrown away, and file-system clutter. Shown in
 * `hindsight backup --help` and in the UI, where it can be changed. They come
 * before the user's own patterns, so a user's "!.cache/" brings a group back.
 *
 * Every pattern is relative (no leading "/"), so it applies whichever folder
 * is backed up: the home folder, /home, a whole disk or a mounted drive.
 *
 * Deliberately not excluded:
 * - node_modules, build output, virtual machines, downloads: big, but not
 *   always reproducible (private or unpublished packages, local patches, a
 *   registry that has dropped a version), and a backup that silently skips
 *   them loses data. Users exclude them by choice; deduplication makes them
 *   cheap after the first backup.
 * - "*.tmp": the extension is used too loosely (some programs keep real work
 *   in it) to be sure it is disposable; a kept temporary file costs little.
 * - "desktop.ini": a few bytes that carry a Windows folder's icon and name.
 * - Generic "Cache/" or "Caches/" folders: too likely to be a user's own.
 *   Programs that mark their caches with CACHEDIR.TAG are handled by
 *   --exclude-caches instead.
 */
export const DEFAULT_EXCLUDES: readonly string[] = [
  // Caches that programs rebuild on their own: XDG (~/.cache, also the
  // per-project .cache of many build tools), macOS, Windows, old thumbnails.
  '.cache/',
  '**/Library/Caches/',
  '**/AppData/Local/Temp/',
  '.thumbnails/',
  // Trash and recycle bins: macOS (home, removable volumes), freedesktop
  // (home, removable volumes), Windows (fixed NTFS drives, removable drives).
  '.Trash/',
  '.Trashes/',
  '**/.local/share/Trash/',
  '.Trash-*/',
  '$Recycle.Bin/',
  '$RECYCLE.BIN/',
  // File-system and OS bookkeeping: rebuilt by the system, often unreadable,
  // and .DS_Store churns on every Finder visit.
  '.DS_Store',
  'Thumbs.db',
  '.Spotlight-V100/',
  '.fseventsd/',
  '.TemporaryItems/',
  '.DocumentRevisions-V100/',
  'System Volume Information/',
  'lost+found/',
  // Vim swap files (".name.swp", beside the file) and Office owner files
  // ("~$name.docx"): stand-ins for an open document, meaningless once closed.
  '.*.swp',
  '~$*',
];
