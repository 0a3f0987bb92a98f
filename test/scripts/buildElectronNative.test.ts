import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tempDir.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('npm start where Electron\'s headers cannot be downloaded: one line saying so, a non-zero exit, nothing built or left behind', async (t) => {
  // The script in a checkout of its own (sharing node_modules), so this checkout's build/ is not touched,
  // with every download sent to a closed port and node-gyp's header cache in an empty folder.
  const checkout = await tempDir(t);
  await mkdir(join(checkout, 'scripts'));
  await copyFile(join(root, 'scripts', 'buildElectronNative.mjs'), join(checkout, 'scripts', 'buildElectronNative.mjs'));
  await copyFile(join(root, 'package.json'), join(checkout, 'package.json'));
  await symlink(join(root, 'node_modules'), join(checkout, 'node_modules'));
  // The machine's own proxy settings go first: CI reached Electron's headers through an npm_config_proxy
  // or a NO_PROXY this test had left in place, and built (exit 0 after 71 s).
  const closed = 'http://127.0.0.1:9';
  const inherited = Object.entries(process.env).filter(([name]) => !/proxy|^npm_config_/i.test(name));
  const env = { ...Object.fromEntries(inherited), HOME: checkout, npm_config_devdir: join(checkout, 'node-gyp'), HTTPS_PROXY: closed, HTTP_PROXY: closed, https_proxy: closed, http_proxy: closed };
  const result = spawnSync(process.execPath, [join(checkout, 'scripts', 'buildElectronNative.mjs')], { cwd: checkout, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 1, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0] as string, /^hindsight: cannot build better-sqlite3 for Electron: Electron [\d.]+'s headers could not be downloaded \(no network\?\)\. The CLI and "npx hindsight serve" are unaffected\.$/);
  const built = join(checkout, 'build', 'electron-native');
  assert.deepEqual(existsSync(built) ? readdirSync(built) : [], [], 'no half-built addon and no staging folder');
});
