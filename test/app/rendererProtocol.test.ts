import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONTENT_SECURITY_POLICY, rendererFile } from '../../src-main/app/rendererProtocol.js';

const root = '/opt/hindsight/build/renderer';

test('app://hindsight/ URLs map to files of the built renderer', () => {
  assert.equal(rendererFile(root, 'app://hindsight/'), join(root, 'index.html'));
  assert.equal(rendererFile(root, 'app://hindsight/index.html'), join(root, 'index.html'));
  assert.equal(rendererFile(root, 'app://hindsight/assets/index-3f2a.js?v=1#x'), join(root, 'assets', 'index-3f2a.js'));
  assert.equal(rendererFile(root, 'app://hindsight/assets/a%20b.css'), join(root, 'assets', 'a b.css'));
});

test('nothing outside the renderer folder, and no other host, is served', () => {
  for (const url of [
    'app://hindsight/assets/%2e%2e%2f%2e%2e%2f..%2fsecret',
    'app://hindsight/..%2f..%2fpackage.json',
    'app://hindsight/%00.js',
    'app://hindsight/%E0%A4%A',
    'app://elsewhere/index.html',
    'file:///etc/passwd',
    'https://hindsight/index.html',
    'not a url',
  ]) {
    assert.equal(rendererFile(root, url), undefined, url);
  }
  // The URL parser folds dot segments, encoded or not, before we see the path: what remains stays inside.
  assert.equal(rendererFile(root, 'app://hindsight/../../etc/passwd'), join(root, 'etc', 'passwd'));
  assert.equal(rendererFile(root, 'app://hindsight/%2e%2e/%2e%2e/etc/passwd'), join(root, 'etc', 'passwd'));
});

test('the CSP allows only our own resources: no inline script, eval, network or framing', () => {
  const directives = new Map(CONTENT_SECURITY_POLICY.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
  assert.equal(directives.get('default-src'), "'none'");
  assert.equal(directives.get('script-src'), "'self'");
  assert.equal(directives.get('connect-src'), "'none'");
  assert.equal(directives.get('frame-ancestors'), "'none'");
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-|\*|http/);
});
