/**
 * What a desktop backup skips unless the user says otherwise: data that is
 * rebuilt automatically, already thrown away, or system clutter. Shown in
 * `hindsight backup --help` and in the UI, where it can be changed.
 *
 * Deliberately not excluded: node_modules, build output, virtual machines and
 * downloads. They are big, but some people have nothing else of them; a tool
 * that silently skips them loses data. Users exclude them by choice.
 */
export const DEFAULT_EXCLUDES: readonly string[] = [
  // Caches that applications rebuild on their own.
  '/home/*/.cache/',
  '/root/.cache/',
  '/Users/*/Library/Caches/',
  '/Users/*/AppData/Local/Temp/',
  '.thumbnails/',
  // Trash and recycle bins.
  '/home/*/.local/share/Trash/',
  '.Trash/',
  '.Trash-*/',
  '$RECYCLE.BIN/',
  // File-system and OS bookkeeping.
  '.DS_Store',
  '.Spotlight-V100/',
  '.fseventsd/',
  '.TemporaryItems/',
  'Thumbs.db',
  'lost+found/',
  // Editor swap files and Office lock files: transient, and often locked while open.
  '*.swp',
  '~$*',
];
