import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { APP_USER_MODEL_ID } from '../../src-main/app/appIdentity.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(import.meta.url);

interface BuilderConfig {
  appId?: string;
  productName?: string;
  asarUnpack?: string[];
  npmRebuild?: boolean;
  /** getConfig normalises the list into file sets. */
  files?: { filter?: string[] }[];
  directories?: { buildResources?: string };
  linux?: { target?: string[]; icon?: string; maintainer?: string; syncDesktopName?: boolean; executableName?: string };
  mac?: { target?: string[]; icon?: string };
  win?: { target?: string[]; icon?: string };
}

/** electron-builder's own loader and schema check (app-builder-lib, which electron-builder runs on), so the test reads the file as `npm run dist` will. */
async function loadConfig(): Promise<BuilderConfig> {
  const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
    getConfig(dir: string, file: string, extra: null): Promise<BuilderConfig>;
    validateConfiguration(config: BuilderConfig, logger: unknown): Promise<void>;
  };
  const { DebugLogger, log } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown; log: { stream: { write(text: string): boolean } } };
  // Its "• loaded configuration" line goes to stdout, which node:test's runner reads as its own
  // protocol: once it landed inside a message and the runner failed the file ("Unable to deserialize
  // cloned data"). Its logger writes to its stream directly, so the stream is what is silenced.
  const stream = log.stream;
  log.stream = { write: () => true };
  try {
    const config = await getConfig(root, 'electron-builder.yml', null);
    await validateConfiguration(config, new DebugLogger(false));
    return config;
  } finally {
    log.stream = stream;
  }
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): [number, number] {
  const bytes = readFileSync(file);
  assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG', `${file} is a PNG`);
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

test('electron-builder.yml passes electron-builder\'s schema and names the app, its targets and native-module handling', async () => {
  const config = await loadConfig();
  assert.equal(config.appId, 'org.hindsight.desktop');
  assert.equal(APP_USER_MODEL_ID, config.appId, 'the app claims the id of the installer\'s shortcut, or Windows drops its notifications');
  assert.equal(config.productName, 'Hindsight');
  assert.deepEqual(config.linux?.target, ['AppImage', 'deb']);
  assert.deepEqual(config.mac?.target, ['dmg']);
  assert.deepEqual(config.win?.target, ['nsis']);
  assert.equal(config.npmRebuild, false, 'node_modules stays on Node\'s ABI; better-sqlite3\'s Electron build is made beside it');
  assert.ok(config.asarUnpack?.includes('**/*.node'), 'native modules load from outside the asar');
  const files = config.files?.flatMap((set) => set.filter ?? []) ?? [];
  for (const needed of ['build/src-main/**', 'build/src-shared/**', 'build/renderer/**', 'build/electron-native/*.node', 'assets/tray/**', 'assets/icons/**']) assert.ok(files.includes(needed), needed);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string };
  assert.equal(pkg.main, 'build/src-main/app/main.js', 'electron-builder starts the app from package.json main');
});

test('every icon the configuration and the app name exists, at the size its name says', async () => {
  const config = await loadConfig();
  const linuxIcons = join(root, config.linux?.icon as string);
  for (const size of [16, 24, 32, 48, 64, 128, 256, 512]) assert.deepEqual(pngSize(join(linuxIcons, `${size}x${size}.png`)), [size, size]);
  assert.deepEqual(pngSize(join(root, config.mac?.icon as string)), [1024, 1024]);
  const ico = readFileSync(join(root, config.win?.icon as string));
  assert.deepEqual([ico.readUInt16LE(0), ico.readUInt16LE(2)], [0, 1], 'an ICO header');
  assert.ok(ico.readUInt16LE(4) >= 5, 'several sizes in the .ico');
  assert.ok(existsSync(join(root, config.directories?.buildResources as string)));
  // The tray's images, by the names tray.ts loads them.
  for (const state of ['idle', 'running', 'paused', 'error', 'behind']) {
    assert.deepEqual(pngSize(join(root, 'assets', 'tray', `${state}.png`)), [32, 32]);
    assert.deepEqual(pngSize(join(root, 'assets', 'tray', `${state}Template.png`)), [16, 16]);
    assert.deepEqual(pngSize(join(root, 'assets', 'tray', `${state}Template@2x.png`)), [32, 32]);
  }
});

interface PackageJson {
  main: string;
  productName?: string;
  desktopName?: string;
  homepage?: string;
  author?: { name: string; email?: string };
  scripts: Record<string, string>;
}

test('the deb target\'s own check passes: a homepage and a maintainer with an email (fpm refuses to build without them)', async () => {
  const config = await loadConfig();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const FpmTarget = (require('app-builder-lib/out/targets/FpmTarget') as { default: new (...args: unknown[]) => { scriptFiles: Promise<unknown>; checkOptions(): Promise<{ maintainer: string; url: string }> } }).default;
  const { AppInfo } = require('app-builder-lib/out/appInfo') as { AppInfo: { prototype: object } };
  // What FpmTarget reads of electron-builder's packager: the metadata (package.json), the linux options, an AppInfo for the homepage.
  const appInfo = Object.assign(Object.create(AppInfo.prototype) as object, { info: { metadata: pkg, devMetadata: pkg, repositoryInfo: Promise.resolve(null) } });
  const packager = { platformSpecificBuildOptions: config.linux, config, appInfo, info: { metadata: pkg }, executableName: 'hindsight' };
  const deb = new FpmTarget('deb', packager, null, '/nonexistent');
  deb.scriptFiles.catch(() => undefined); // its install scripts need a whole packager; the metadata check does not
  const meta = await deb.checkOptions();
  assert.match(meta.maintainer, /^.+ <[^@\s]+@[^@\s]+>$/);
  assert.equal(meta.url, pkg.homepage);
});

test('window association on Linux: the installed .desktop file is named as package.json\'s desktopName, which Electron uses as app_id', async () => {
  const config = await loadConfig();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  const { LinuxTargetHelper } = require('app-builder-lib/out/targets/LinuxTargetHelper') as { LinuxTargetHelper: new (packager: unknown) => { getDesktopFileName(): string } };
  const helper = new LinuxTargetHelper({ platformSpecificBuildOptions: config.linux, info: { metadata: pkg }, executableName: config.linux?.executableName });
  assert.equal(config.linux?.syncDesktopName, true);
  assert.equal(`${helper.getDesktopFileName()}.desktop`, pkg.desktopName);
  // Without it the development app is called "Electron" (and so are its login item and its folders).
  assert.equal(pkg.productName, 'Hindsight');
});

test('npm start and npm run dist build better-sqlite3 for Electron beside the checkout\'s own build', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  for (const script of ['start', 'dist']) assert.match(pkg.scripts[script] ?? '', /node scripts\/buildElectronNative\.mjs &&/, script);
  assert.equal(pkg.scripts['rebuild:electron'], undefined, 'nothing puts node_modules on Electron\'s ABI');
});
