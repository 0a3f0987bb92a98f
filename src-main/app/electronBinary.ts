import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type ElectronBinary = { readonly found: true; readonly path: string } | { readonly found: false; readonly reason: string };

/**
 * Where the Electron executable is, found the way the `electron` package
 * finds it (path.txt names it inside dist/, ELECTRON_OVERRIDE_DIST_PATH
 * replaces dist/) but without requiring that package: its index.js starts a
 * download when the binary is missing, and there may be no network for it.
 */
export function findElectronBinary(projectRoot: string, env: NodeJS.ProcessEnv = process.env): ElectronBinary {
  const pkg = join(projectRoot, 'node_modules', 'electron');
  const pathFile = join(pkg, 'path.txt');
  const name = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : undefined;
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const path = join(env.ELECTRON_OVERRIDE_DIST_PATH, name || 'electron');
    return existsSync(path) ? { found: true, path } : { found: false, reason: `no Electron executable at ${path} (ELECTRON_OVERRIDE_DIST_PATH)` };
  }
  if (!existsSync(pkg)) return { found: false, reason: 'the electron package is not installed' };
  if (!name) return { found: false, reason: 'the Electron binary is not installed (no node_modules/electron/path.txt)' };
  const path = join(pkg, 'dist', name);
  return existsSync(path) ? { found: true, path } : { found: false, reason: `the Electron binary is not installed (node_modules/electron/dist/${name} is missing)` };
}
