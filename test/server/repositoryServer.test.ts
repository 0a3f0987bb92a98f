import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { RestBackend } from '../../src-main/engine/backend/restBackend.js';
import { backendContract, collect, objectName } from '../helpers/backendContract.js';
import { seededBytes } from '../helpers/data.js';
import { HINDSIGHT_BIN, startHindsightServer } from '../helpers/hindsightServer.js';
import { basicAuth, raw } from '../helpers/rawHttp.js';
import { assertRepositoryCycle } from '../helpers/repositoryCycle.js';
import { startTcpRelay } from '../helpers/tcpRelay.js';

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Files under `folder` whose names start as an unfinished write's do. */
async function temporaryFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile() && entry.name.startsWith('.tmp-')).map((entry) => entry.name);
}

backendContract('hindsight server', async (t) => {
  // The contract writes made-up bytes under made-up names: nothing there is content-addressed.
  const server = await startHindsightServer(t, { args: ['--no-verify-upload'] });
  return new RestBackend(server.options('alice/contract'));
});

test('hindsight server: init, backup, restore byte for byte and check --read-data over it; the repository is an ordinary folder under --data', async (t) => {
  const server = await startHindsightServer(t);
  await assertRepositoryCycle(t, () => new RestBackend(server.options('alice/laptop')), { packSize: 512 * 1024, bigFileBytes: 3 * 1024 * 1024 + 5 });
  const remote = new RestBackend(server.options('alice/laptop'));
  const local = new LocalBackend(join(server.data, 'alice', 'laptop'));
  t.after(() => Promise.all([remote.close(), local.close()]));
  const packs = await collect(remote.list('data'));
  assert.ok(packs.length > 2, 'several packs');
  assert.deepEqual((await collect(local.list('data'))).sort(byName), packs.sort(byName));
  for (const type of ['keys', 'index', 'snapshots'] as const) {
    assert.deepEqual((await collect(local.list(type))).sort(byName), (await collect(remote.list(type))).sort(byName), type);
  }
  assert.deepEqual(await temporaryFiles(join(server.data, 'alice', 'laptop')), []);
});

test('hindsight server and Hindsight\'s client: an idle kept-alive connection is closed by the client before the keep-alive time the server announces, so no request goes out on one the server is closing', async (t) => {
  const server = await startHindsightServer(t);
  const relay = await startTcpRelay(t, server.port);
  const backend = new RestBackend({ ...server.options('alice/idle'), url: `${relay.url}/alice/idle` });
  t.after(() => backend.close());
  await backend.create();
  assert.equal(relay.opened(), 1);
  // The server announces "Keep-Alive: timeout=5" and closes after 5 s; the client lets go a second before.
  for (const deadline = Date.now() + 15_000; relay.closedFirstBy().length === 0; await new Promise((resolve) => setTimeout(resolve, 100))) {
    assert.ok(Date.now() < deadline, 'the idle connection was never closed');
  }
  assert.deepEqual(relay.closedFirstBy(), ['client']);
});

test('hindsight server: names are checked (no traversal, no other folders), content-addressed uploads are hashed, oversize and malformed requests get 4xx and the server goes on', async (t) => {
  const server = await startHindsightServer(t, { args: ['--max-upload', '1MiB'] });
  const { port } = server;
  assert.equal((await raw(port, 'POST', '/alice/r/?create=true')).status, 200);
  assert.equal((await raw(port, 'POST', '/alice/r/?create=true')).status, 200, 'creating again changes nothing');

  for (const path of ['/alice/r/../../etc/passwd', '/../etc/passwd', '/alice/%2e%2e/x/config', '/alice/r/data/nothex', `/alice/r/data/${'A'.repeat(64)}`, `/alice/r/other/${'a'.repeat(64)}/x`, `/alice/r/locks/${'a'.repeat(64)}/extra`, '/.hindsight-server/users', '/alice//r/config', '/']) {
    const answer = await raw(port, 'GET', path);
    assert.ok(answer.status >= 400 && answer.status < 500, `${path}: ${answer.status}`);
    assert.notEqual(answer.status, 200);
  }
  assert.equal((await raw(port, 'PUT', '/alice/r/config', { body: Buffer.from('x') })).status, 405);
  assert.equal((await raw(port, 'DELETE', '/alice/r/')).status, 405, 'a repository is never deleted over the protocol');

  // Index, snapshot, key and lock objects are named by the SHA-256 of their bytes.
  const index = seededBytes('index', 5000);
  const wrong = await raw(port, 'POST', `/alice/r/index/${objectName(1)}`, { body: index });
  assert.equal(wrong.status, 400);
  assert.match(wrong.body, /does not match the name/);
  assert.equal((await raw(port, 'POST', `/alice/r/index/${sha256(index)}`, { body: index })).status, 200);
  // So are packs in restic's repositories (a config that is not Hindsight's)…
  assert.equal((await raw(port, 'POST', '/alice/r/config', { body: seededBytes('restic config', 200) })).status, 200);
  const pack = seededBytes('pack', 300_000);
  assert.equal((await raw(port, 'POST', `/alice/r/data/${objectName(2)}`, { body: pack })).status, 400);
  assert.equal((await raw(port, 'POST', `/alice/r/data/${sha256(pack)}`, { body: pack })).status, 200);
  // …but not in Hindsight's, whose pack names are random.
  assert.equal((await raw(port, 'POST', '/alice/h/?create=true')).status, 200);
  assert.equal((await raw(port, 'POST', '/alice/h/config', { body: Buffer.concat([Buffer.from('HSO1'), seededBytes('config', 100)]) })).status, 200);
  assert.equal((await raw(port, 'POST', `/alice/h/data/${objectName(3)}`, { body: pack })).status, 200);

  // A body over --max-upload: refused from its Content-Length, or once it grows past it when sent chunked.
  const big = seededBytes('big', 2 * 1024 * 1024);
  const declared = await raw(port, 'POST', `/alice/r/data/${sha256(big)}`, { body: big });
  assert.equal(declared.status, 413);
  assert.match(declared.body, /larger than this server accepts/);
  const chunked = await raw(port, 'POST', `/alice/r/data/${sha256(big)}`, { body: big, chunked: true });
  assert.equal(chunked.status, 413);
  // A Content-Length the body does not keep.
  assert.equal((await raw(port, 'POST', `/alice/r/snapshots/${objectName(4)}`, { headers: { 'Content-Length': 'lots' } })).status, 400);

  // Ranges: one satisfiable range is 206, past the end 416, anything else 400.
  const ranged = await raw(port, 'GET', `/alice/r/index/${sha256(index)}`, { headers: { Range: 'bytes=10-19' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers['content-range'], 'bytes 10-19/5000');
  assert.equal((await raw(port, 'GET', `/alice/r/index/${sha256(index)}`, { headers: { Range: 'bytes=5000-5001' } })).status, 416);
  assert.equal((await raw(port, 'GET', `/alice/r/index/${sha256(index)}`, { headers: { Range: 'bytes=1-2,5-6' } })).status, 400);

  // Nothing refused was kept, nothing half-written is left, and the server still answers.
  const listing = await raw(port, 'GET', '/alice/r/data/', { headers: { Accept: 'application/vnd.x.restic.rest.v2' } });
  assert.equal(listing.status, 200);
  assert.deepEqual(JSON.parse(listing.body), [{ name: sha256(pack), size: pack.length }]);
  const v1 = await raw(port, 'GET', '/alice/r/index/');
  assert.equal(v1.headers['content-type'], 'application/vnd.x.restic.rest.v1');
  assert.deepEqual(JSON.parse(v1.body), [sha256(index)]);
  assert.deepEqual(await temporaryFiles(join(server.data, 'alice')), []);
  assert.equal(server.process.exitCode, null);
  await server.waitForLog(/413 the object is larger/);
});

test('hindsight server --tls-self-signed: HTTPS with HTTP/2 and HTTP/1.1, the fingerprint printed and kept across restarts, the key file mode 0600', async (t) => {
  const server = await startHindsightServer(t, { args: ['--tls-self-signed'] });
  assert.match(server.url, /^https:/);
  const certFile = join(server.data, '.hindsight-server', 'tls-cert.pem');
  const cert = await readFile(certFile, 'utf8');
  assert.equal(server.fingerprint, `SHA256:${new X509Certificate(cert).fingerprint256}`);
  assert.equal((await stat(join(server.data, '.hindsight-server', 'tls-key.pem'))).mode & 0o777, 0o600);

  // HTTP/1.1 through the REST client, trusting the certificate.
  const backend = new RestBackend({ ...server.options('alice/tls'), ca: cert });
  t.after(() => backend.close());
  await backend.create();
  const key = seededBytes('key', 1000);
  await backend.write({ type: 'keys', name: sha256(key) }, key);
  assert.deepEqual(await backend.read({ type: 'keys', name: sha256(key) }), key);
  // Without trusting it, refused.
  const untrusting = new RestBackend(server.options('alice/tls'));
  t.after(() => untrusting.close());
  await assert.rejects(collect(untrusting.list('keys')), { code: 'E_HOST_KEY' });

  // HTTP/2, negotiated through ALPN.
  const session = http2Connect(server.url, { ca: cert });
  t.after(() => session.close());
  const listing = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const stream = session.request({ ':path': '/alice/tls/keys/', accept: 'application/vnd.x.restic.rest.v2', authorization: basicAuth('alice') });
    let status = 0;
    let body = '';
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
  assert.equal(listing.status, 200);
  assert.deepEqual(JSON.parse(listing.body), [{ name: sha256(key), size: 1000 }]);

  await server.stop('SIGTERM');
  const again = await startHindsightServer(t, { data: server.data, args: ['--tls-self-signed'] });
  assert.equal(again.fingerprint, server.fingerprint, 'the same certificate after a restart');
});

test('hindsight server refuses plain HTTP on an address other than loopback unless --insecure-listen, and bad options', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', ...args], { encoding: 'utf8', timeout: 30_000 });
  const open = run('--data', '/nonexistent-hindsight', '--listen', '0.0.0.0:0');
  assert.equal(open.status, 2, open.stderr);
  assert.match(open.stderr, /Listening on 0\.0\.0\.0 without TLS would send passwords and backups across the network in clear/);
  assert.equal(run('--listen', '127.0.0.1:0').status, 2, 'no --data');
  assert.match(run('--data', '/x', '--listen', 'nowhere').stderr, /--listen takes HOST:PORT/);
  assert.match(run('--data', '/x', '--tls-cert', '/x.pem').stderr, /--tls-cert and --tls-key go together/);
});
