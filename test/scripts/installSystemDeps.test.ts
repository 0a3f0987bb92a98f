import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** The package lists of scripts/install-system-deps.sh, by name (DEBIAN_BUILD=(a b c)). */
function lists(script: string): Map<string, string[]> {
  return new Map([...script.matchAll(/^([A-Z_]+)=\(([^)]*)\)$/gm)].map((m) => [m[1] as string, (m[2] as string).trim().split(/\s+/)]));
}

test('CI installs the system packages with the script README tells people to run', () => {
  const readme = read('README.md');
  assert.match(readme, /```sh\nscripts\/install-system-deps\.sh /, 'README\'s set-up runs the script');
  const ci = read('.ci/run');
  assert.match(ci, /^scripts\/install-system-deps\.sh --tests$/m, '.ci/run runs the same script');
  assert.doesNotMatch(ci, /apt-get install/, '.ci/run installs nothing the script does not');
});

test('README lists every package the script installs, per platform', () => {
  const readme = read('README.md');
  const found = lists(read('scripts/install-system-deps.sh'));
  for (const name of ['DEBIAN_BUILD', 'DEBIAN_TESTS', 'FEDORA_BUILD', 'FEDORA_TESTS']) {
    const packages = found.get(name);
    assert.ok(packages && packages.length > 0, `${name} in the script`);
    // The table cell that lists them, in the script's order.
    assert.ok(readme.includes(`\`${packages.join(' ')}\``), `README lists ${name}: ${packages.join(' ')}`);
  }
  assert.ok(found.get('DEBIAN_BUILD')?.includes('libsecret-1-dev') && found.get('DEBIAN_BUILD')?.includes('pkg-config'), 'keytar builds against libsecret');
});
