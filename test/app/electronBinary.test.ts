import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findElectronBinary } from '../../src-main/app/electronBinary.js';
import { tempDir } from '../helpers/tempDir.js';

const launcher = fileURLToPath(new URL('../../src-main/app/launch.js', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));

test('the Electron binary is found from path.txt and dist/, and a missing one is named without a download', async (t) => {
  const root = await tempDir(t);
  const pkg = join(root, 'node_modules', 'electron');
  assert.deepEqual(findElectronBinary(root, {}), { found: false, reason: 'the electron package is not installed' });
  await mkdir(pkg, { recursive: true });
  const noPathFile = findElectronBinary(root, {});
  assert.equal(noPathFile.found, false);
  assert.match(noPathFile.found ? '' : noPathFile.reason, /no node_modules\/electron\/path\.txt/);
  await writeFile(join(pkg, 'path.txt'), 'electron');
  const noDist = findElectronBinary(root, {});
  assert.match(noDist.found ? '' : noDist.reason, /dist\/electron is missing/);
  await mkdir(join(pkg, 'dist'));
  await writeFile(join(pkg, 'dist', 'electron'), '');
  assert.deepEqual(findElectronBinary(root, {}), { found: true, path: join(pkg, 'dist', 'electron') });
  assert.deepEqual(findElectronBinary(root, { ELECTRON_OVERRIDE_DIST_PATH: join(root, 'elsewhere') }).found, false);
  await mkdir(join(root, 'elsewhere'));
  await writeFile(join(root, 'elsewhere', 'electron'), '');
  assert.deepEqual(findElectronBinary(root, { ELECTRON_OVERRIDE_DIST_PATH: join(root, 'elsewhere') }), { found: true, path: join(root, 'elsewhere', 'electron') });
});

test('npm start without an Electron binary: one line pointing to hindsight serve, a non-zero exit, no download attempted', () => {
  const pathFileBefore = existsSync(join(projectRoot, 'node_modules', 'electron', 'path.txt'));
  // An override that points nowhere makes the binary missing on any machine, without touching node_modules.
  const result = spawnSync(process.execPath, [launcher], { env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: '/nonexistent/electron-dist' }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 1);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0] as string, /^hindsight: cannot start the desktop app: no Electron executable at .*\. Use "npx hindsight serve"/);
  assert.doesNotMatch(result.stderr, /Downloading/);
  assert.equal(existsSync(join(projectRoot, 'node_modules', 'electron', 'path.txt')), pathFileBefore, 'node_modules/electron untouched');
});

test('npm start hands Electron the project folder (so package.json names the app), not main.js, and passes its arguments on', async (t) => {
  // A stand-in Electron that writes down how it was started; its exit status is the launcher's.
  const dist = await tempDir(t);
  const record = join(dist, 'argv.json');
  await writeFile(join(dist, 'electron'), `#!${process.execPath}\nrequire('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)));\nprocess.exit(3);\n`, { mode: 0o755 });
  const result = spawnSync(process.execPath, [launcher, '--hidden'], { env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: dist }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 3, result.stderr);
  const [folder, ...rest] = JSON.parse(await readFile(record, 'utf8')) as string[];
  assert.equal(resolve(folder!), resolve(projectRoot));
  assert.deepEqual(rest, ['--hidden']);
  const pkg = JSON.parse(await readFile(join(folder!, 'package.json'), 'utf8')) as { main: string; productName: string; desktopName: string };
  assert.equal(pkg.productName, 'Hindsight');
  assert.equal(pkg.desktopName, 'hindsight.desktop');
  assert.ok(existsSync(join(folder!, pkg.main)), `${pkg.main} is built`);
});
