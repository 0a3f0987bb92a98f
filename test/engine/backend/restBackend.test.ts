import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BackendError } from '../../../src-main/engine/backend/backend.js';
import { LocalBackend } from '../../../src-main/engine/backend/localBackend.js';
import { RestBackend } from '../../../src-main/engine/backend/restBackend.js';
import { RetryingBackend, type RetryEvent } from '../../../src-main/engine/backend/retryingBackend.js';
import { backendContract, collect, objectName, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
import { assertRepositoryCycle } from '../../helpers/repositoryCycle.js';
import { REST_PASSWORD, rcloneMissing, startRestServer } from '../../helpers/restServer.js';
import { freePort } from '../../helpers/sshServer.js';
import { startTcpRelay } from '../../helpers/tcpRelay.js';

const skip = rcloneMissing() ?? false;
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

backendContract(
  'rest',
  async (t) => {
    const server = await startRestServer(t);
    return new RestBackend(server.options('repos/contract'));
  },
  skip ? { skip } : {},
);

test('rest: init, backup, restore byte for byte and check --read-data against rclone serve restic; the server keeps Hindsight\'s folder layout', { skip }, async (t) => {
  const server = await startRestServer(t);
  await assertRepositoryCycle(t, () => new RestBackend(server.options('cycle')), { packSize: 512 * 1024 });
  // The protocol names packs data/<id>; the server files them under data/<2 hex digits>/ as the local backend does.
  const remote = new RestBackend(server.options('cycle'));
  const local = new LocalBackend(join(server.directory, 'cycle'));
  t.after(() => Promise.all([remote.close(), local.close()]));
  const packs = await collect(remote.list('data'));
  assert.ok(packs.length > 1, 'several packs');
  assert.deepEqual((await collect(local.list('data'))).sort(byName), packs.sort(byName));
});

test('rest: requests reuse kept-alive connections, and many are in flight at once up to the connection limit', { skip }, async (t) => {
  const server = await startRestServer(t);
  const relay = await startTcpRelay(t, server.port);
  const backend = new RestBackend({ ...server.options('pool'), url: `${relay.url}/pool`, connections: 4 });
  t.after(() => backend.close());
  await backend.create();
  for (let i = 0; i < 20; i++) await backend.write({ type: 'snapshots', name: objectName(i) }, Buffer.from(`s${i}`));
  assert.equal(relay.opened(), 1, 'one after the other, every request went over the one connection');
  await Promise.all(Array.from({ length: 40 }, (_, i) => backend.write(packHandle(i), seededBytes(`p${i}`, 200_000))));
  assert.equal(relay.mostAtOnce(), 4, 'four connections carried the forty writes at once');
  assert.equal(relay.opened(), 4);
  assert.equal((await collect(backend.list('data'))).length, 40);
});

test('rest: a request on a kept-alive connection the server closed as it went out is sent again (on a new connection once the pooled ones are spent), uploads included', { skip }, async (t) => {
  const server = await startRestServer(t);
  const relay = await startTcpRelay(t, server.port, { resetReused: 2 });
  const direct = new RestBackend(server.options('stale'));
  const backend = new RestBackend({ ...server.options('stale'), url: `${relay.url}/stale`, connections: 2 });
  t.after(() => Promise.all([direct.close(), backend.close()]));
  await direct.create();
  // Two connections in the pool, both answered once; the relay resets each when it is used again.
  await Promise.all([0, 1].map((i) => backend.write({ type: 'snapshots', name: objectName(i) }, Buffer.from(`s${i}`))));
  assert.equal(relay.opened(), 2);
  await backend.write({ type: 'snapshots', name: objectName(2) }, Buffer.from('s2'));
  assert.equal(relay.opened(), 3, 'both pooled connections were reset; the third try went on a new one');
  assert.deepEqual((await collect(backend.list('snapshots'))).sort(byName), [0, 1, 2].map((i) => ({ name: objectName(i), size: 2 })).sort(byName));
  assert.equal((await backend.read({ type: 'snapshots', name: objectName(2) })).toString(), 's2');
});

test('rest: a 503 from the server is transient and retried through the retry wrapper', { skip }, async (t) => {
  const server = await startRestServer(t);
  const relay = await startTcpRelay(t, server.port, { failFirst: 2 });
  const events: RetryEvent[] = [];
  const backend = new RetryingBackend(new RestBackend({ ...server.options('busy'), url: `${relay.url}/busy` }), { baseDelayMs: 1, onRetry: (e) => events.push(e) });
  t.after(() => backend.close());
  await backend.create();
  assert.deepEqual(
    events.map((e) => [e.operation, (e.error as BackendError).code, (e.error as BackendError).transient]),
    [
      ['create', 'E_IO', true],
      ['create', 'E_IO', true],
    ],
  );
  assert.match(String((events[0]?.error as Error).message), /^The server at rest:http:\/\/127\.0\.0\.1:\d+\/busy had a problem trying to read config at .* \(HTTP 503\)\.$/);
  await backend.write(packHandle(1), Buffer.from('after the outage'));
  assert.equal((await backend.read(packHandle(1))).toString(), 'after the outage');
});

test('rest: a wrong password or none is refused as E_AUTH, never naming the password; a server that is down is unreachable; https:// to a plain server says so', { skip }, async (t) => {
  const server = await startRestServer(t);
  const wrong = new RestBackend({ ...server.options('auth'), password: 'not it' });
  t.after(() => wrong.close());
  await assert.rejects(wrong.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.transient, false);
    assert.equal(err.message, `rest:${server.url}/auth refused the user name and password (HTTP 401): check HINDSIGHT_REST_USERNAME and HINDSIGHT_REST_PASSWORD (or the ones in the location).`);
    return true;
  });
  const none = new RestBackend({ url: `${server.url}/auth` });
  t.after(() => none.close());
  await assert.rejects(none.stat(packHandle(1)), { code: 'E_AUTH', message: /asks for a user name and password \(HTTP 401\): set HINDSIGHT_REST_USERNAME and HINDSIGHT_REST_PASSWORD/ });
  const down = new RestBackend({ ...server.options('x'), url: `http://127.0.0.1:${await freePort()}/x` });
  t.after(() => down.close());
  await assert.rejects(down.read(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_UNREACHABLE');
    assert.equal(err.transient, true);
    assert.match(err.message, /^Cannot reach rest:http:\/\/127\.0\.0\.1:\d+\/x to read data\/0+1 \(ECONNREFUSED\)\.$/);
    assert.ok(!err.message.includes(REST_PASSWORD));
    return true;
  });
  const notTls = new RestBackend({ ...server.options('x'), url: `${server.url.replace(/^http:/, 'https:')}/x` });
  t.after(() => notTls.close());
  await assert.rejects(notTls.stat(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_UNREACHABLE');
    assert.equal(err.transient, false, 'another try would meet the same plain HTTP');
    assert.match(err.message, /does not speak HTTPS there \(EPROTO\): if it serves plain HTTP, write the location with rest:http:\/\/\.$/);
    return true;
  });
});

test('rest: an append-only server keeps objects: deletes (but of locks) and replacements are refused with E_PERMISSION; writes go on', { skip }, async (t) => {
  const first = await startRestServer(t);
  const setUp = new RestBackend(first.options('kept'));
  await setUp.create();
  await setUp.write(packHandle(1), Buffer.from('pack'));
  await setUp.close();
  await first.stop();
  const server = await startRestServer(t, { appendOnly: true, directory: first.directory });
  const backend = new RestBackend(server.options('kept'));
  t.after(() => backend.close());
  await assert.rejects(backend.delete(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_PERMISSION');
    assert.equal(err.transient, false);
    assert.match(err.message, /refused to delete data\/0+1 \(HTTP 403\): it is append-only .* run forget and prune where deletes are allowed/);
    return true;
  });
  await assert.rejects(backend.write(packHandle(1), Buffer.from('other')), { code: 'E_PERMISSION', message: /refused to write data\/0+1 \(HTTP 403\): it does not replace an object that exists/ });
  // The same bytes again (a retried write whose answer was lost) are already there: done.
  await backend.write(packHandle(1), Buffer.from('pack'));
  await backend.write(packHandle(2), Buffer.from('new pack'));
  await backend.write({ type: 'locks', name: objectName(3) }, Buffer.from('lock'));
  await backend.delete({ type: 'locks', name: objectName(3) });
  assert.deepEqual((await collect(backend.list('data'))).map((o) => o.name).sort(), [objectName(1), objectName(2)]);
  assert.deepEqual(await collect(backend.list('locks')), []);
});

test('rest: HTTPS with a self-signed certificate is refused until it is trusted with its certificate file', { skip }, async (t) => {
  const server = await startRestServer(t, { tls: true });
  const untrusted = new RestBackend(server.options('tls'));
  t.after(() => untrusted.close());
  await assert.rejects(untrusted.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_HOST_KEY');
    assert.equal(err.transient, false);
    assert.match(err.message, /^The server at rest:https:\/\/127\.0\.0\.1:\d+\/tls has a TLS certificate Hindsight cannot trust \(\w+\)\. .* --rest-cacert FILE\.$/);
    return true;
  });
  const plain = new RestBackend({ ...server.options('tls'), url: `${server.url.replace(/^https:/, 'http:')}/tls` });
  t.after(() => plain.close());
  await assert.rejects(plain.stat(packHandle(1)), { code: 'E_UNREACHABLE', transient: false, message: /did not answer in plain HTTP \(HPE_\w+\): if it serves HTTPS, write the location with rest:https:\/\/\.$/ });
  const trusted = new RestBackend({ ...server.options('tls'), ca: await readFile(server.certificate as string) });
  t.after(() => trusted.close());
  await trusted.create();
  await trusted.write(packHandle(1), seededBytes('over tls', 50_000));
  assert.deepEqual(await trusted.read(packHandle(1), { offset: 10, length: 20 }), seededBytes('over tls', 50_000).subarray(10, 30));
});
