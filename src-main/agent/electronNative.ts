import { existsSync, readdirSync } from 'node:fs';
import { join, sep } from 'node:path';

/**
 * Where the agent finds better-sqlite3 built for Electron (scripts/buildElectronNative.mjs writes
 * build/electron-native/better_sqlite3-electron-<version>.node), or a sentence saying why it cannot.
 * In the packaged app the file is inside app.asar but listed in asarUnpack: the OS can only map a
 * shared library from a real file, which is the same path under app.asar.unpacked.
 */
export function electronSqliteBinding(buildDir: string, electronVersion: string): { readonly path: string } | { readonly missing: string } {
  const dir = unpackedPath(join(buildDir, 'electron-native'));
  const name = `better_sqlite3-electron-${electronVersion}.node`;
  if (existsSync(join(dir, name))) return { path: join(dir, name) };
  const other = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith('.node')) : undefined;
  return {
    missing: other
      ? `The app's database module was built for another Electron (${other}); run "npm start" again to rebuild it for Electron ${electronVersion}.`
      : `The app's database module for Electron ${electronVersion} is not built; "npm start" builds it (it downloads Electron's headers once).`,
  };
}

/** `path` with its app.asar folder replaced by app.asar.unpacked, where electron-builder puts asarUnpack files. */
export function unpackedPath(path: string): string {
  return path.split(sep).map((part) => (part === 'app.asar' ? 'app.asar.unpacked' : part)).join(sep);
}
