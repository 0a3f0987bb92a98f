import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const build = fileURLToPath(new URL('../../src-main/', import.meta.url));

function compiled(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return compiled(path);
    return /\.c?js$/.test(entry.name) ? [path] : [];
  });
}

const importsElectron = (file: string) => /(?:from\s*|require\()\s*['"]electron['"]/.test(readFileSync(file, 'utf8'));

test('only the thin Electron layer imports electron: never the agent, the engine or the tested app logic', () => {
  const offenders = compiled(build)
    .filter(importsElectron)
    .map((file) => relative(build, file))
    .sort();
  // Each of these is glue around Electron's API; the logic they use lives in modules tested in plain Node.
  assert.deepEqual(offenders, ['app/agentHost.js', 'app/ipcBridge.js', 'app/main.js', 'app/preload.cjs', 'app/security.js', 'app/tray.js', 'app/window.js']);
});
