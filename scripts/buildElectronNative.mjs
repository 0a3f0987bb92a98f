// better-sqlite3 built for Electron's ABI, beside (not instead of) the checkout's own build for Node:
// the CLI and `npm test` keep node_modules/better-sqlite3 as npm built it, and the desktop agent loads
// build/electron-native/better_sqlite3-electron-<version>.node through better-sqlite3's nativeBinding
// option (src-main/agent/electronNative.ts). Run by `npm start` and `npm run dist`. The other native
// modules (zstd-napi, keytar, @node-rs/argon2, @napi-rs/blake-hash) use N-API, which every runtime shares.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(root, 'package.json'));
const fail = (why) => {
  console.error(`hindsight: cannot build better-sqlite3 for Electron: ${why}. The CLI and "npx hindsight serve" are unaffected.`);
  process.exit(1);
};

let electronVersion;
try {
  electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
} catch {
  fail('the electron package is not installed');
}
const outDir = join(root, 'build', 'electron-native');
const output = join(outDir, `better_sqlite3-electron-${electronVersion}.node`);
if (existsSync(output)) process.exit(0);

// A copy of the package's sources, built there: node-gyp writes its build/ into the folder it runs in.
const source = dirname(require.resolve('better-sqlite3/package.json'));
const staging = join(outDir, 'staging');
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
for (const name of ['package.json', 'binding.gyp', 'src', 'deps']) cpSync(join(source, name), join(staging, name), { recursive: true });
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
console.log(`Building better-sqlite3 for Electron ${electronVersion} (once per Electron version)…`);
// npm passes its config to scripts as npm_config_* variables, and node-gyp reads them: a nodedir (an
// .npmrc's `nodedir=/usr`, as on Debian machines building against the system's Node) would build
// against Node's headers under Electron's name, a module that loads nowhere. Electron's headers only.
const gypEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.toLowerCase() !== 'npm_config_nodedir'));
const build = spawnSync(process.execPath, [gyp, 'rebuild', '--release', `--target=${electronVersion}`, `--arch=${process.arch}`, '--runtime=electron', '--dist-url=https://electronjs.org/headers'], {
  cwd: staging,
  env: gypEnv,
  stdio: ['ignore', 'ignore', 'pipe'],
  encoding: 'utf8',
});
if (build.status !== 0) {
  rmSync(staging, { recursive: true, force: true });
  const stderr = build.stderr ?? '';
  const offline = /network connectivity|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|getaddrinfo|403|404/.test(stderr);
  fail(offline ? `Electron ${electronVersion}'s headers could not be downloaded (no network?)` : `node-gyp failed: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
}
// Earlier Electron versions' builds go: only the current one is packaged.
for (const name of readdirSync(outDir)) if (name.endsWith('.node')) rmSync(join(outDir, name));
cpSync(join(staging, 'build', 'Release', 'better_sqlite3.node'), output);
rmSync(staging, { recursive: true, force: true });
console.log(`Built ${output}`);
