import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { childEnv } from '../helpers/agentProcess.js';
import { tempDir } from '../helpers/tempDir.js';

const fixture = fileURLToPath(new URL('../fixtures/keychainRoundTrip.js', import.meta.url));
const missing = ['dbus-run-session', 'gnome-keyring-daemon'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);

test(
  'passwords round-trip through a real GNOME Keyring, and a fresh agent opens the repository with the stored one',
  { skip: missing.length > 0 ? `keychain test skipped: ${missing.join(' and ')} not installed (apt-get install dbus gnome-keyring)` : false },
  async (t) => {
    const dir = await tempDir(t);
    const home = join(dir, 'home');
    const runtime = join(dir, 'run');
    await mkdir(home);
    await mkdir(runtime, { mode: 0o700 });
    const password = 'a repository password only the keychain knows';
    // A keyring of its own: fresh HOME and runtime folder, unlocked with a password on stdin.
    const script = `printf 'keyring-login' | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "${process.execPath}" "${fixture}" "$@"`;
    const result = spawnSync('dbus-run-session', ['--', 'sh', '-c', script, 'sh', join(dir, 'data'), join(dir, 'repo'), password], {
      env: childEnv({ HOME: home, XDG_RUNTIME_DIR: runtime, HINDSIGHT_CACHE_DIR: join(dir, 'cache') }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    const seen = JSON.parse(result.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
    assert.equal(seen.read, 'sekrit value');
    assert.equal(seen.afterDelete, null);
    assert.deepEqual(seen.listed, [{ location: join(dir, 'repo'), id: seen.id, unlocked: true }]);
    assert.equal(seen.snapshots, 0, 'the second agent opened the repository with the password from the keychain');
    assert.equal(seen.keychainHas, true);
    assert.equal(seen.passwordInFiles, false, 'the password is in no file of the agent');
  },
);
