import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { AzureBackend } from '../../../src-main/engine/backend/azureBackend.js';
import { azureCredentialsFor, azureCredentialsFromEnvironment } from '../../../src-main/engine/backend/azureCredentials.js';
import { BackendError } from '../../../src-main/engine/backend/backend.js';
import { RetryingBackend, type RetryEvent } from '../../../src-main/engine/backend/retryingBackend.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../../helpers/azureServer.js';
import { backendContract, collect, objectName, packHandle } from '../../helpers/backendContract.js';
import { seededBytes } from '../../helpers/data.js';
import { assertRepositoryCycle } from '../../helpers/repositoryCycle.js';
import { freePort } from '../../helpers/sshServer.js';
import { startTcpRelay, type TcpRelay } from '../../helpers/tcpRelay.js';

const MiB = 1024 * 1024;

backendContract(
  'azure',
  async (t) => {
    const server = await startAzurite(t);
    return new AzureBackend({ ...server.options('repos/contract'), blockSize: 4 * MiB });
  },
  // Larger than two blocks: staged blocks committed as one blob, with a short last block.
  { largeObjectBytes: 9 * MiB + 5 },
);

test('azure: init, backup, restore byte for byte and check --read-data against Azurite; packs above the block size go up in blocks', async (t) => {
  const server = await startAzurite(t);
  const chunker = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 512 * 1024 };
  await assertRepositoryCycle(t, () => new AzureBackend({ ...server.options('cycle'), blockSize: 1 * MiB }), { packSize: 3 * MiB, bigFileBytes: 8 * MiB, chunker });
  const backend = new AzureBackend(server.options('cycle'));
  const packs = await collect(backend.list('data'));
  assert.ok(packs.some((pack) => pack.size > 1 * MiB), `a pack above 1 MiB was written: ${packs.map((p) => p.size).join(', ')}`);
});

test('azure: a listing pages through any number of blobs, each reported once; prefixes keep repositories apart', async (t) => {
  const server = await startAzurite(t);
  const backend = new AzureBackend({ ...server.options('many'), listPageSize: 50 });
  const neighbour = new AzureBackend(server.options('many-neighbour'));
  await backend.create();
  const count = 237;
  const names = Array.from({ length: count }, (_, i) => objectName(i * 31 + 5));
  for (let i = 0; i < count; i += 40) {
    await Promise.all(names.slice(i, i + 40).map((name, j) => backend.write({ type: 'snapshots', name }, Buffer.alloc(1 + ((i + j) % 5)))));
  }
  await neighbour.write({ type: 'snapshots', name: objectName(1) }, Buffer.from('x'));
  await backend.write({ type: 'config', name: 'config' }, Buffer.from('c'));
  const listed = await collect(backend.list('snapshots'));
  assert.equal(listed.length, count);
  assert.deepEqual(listed.map((o) => o.name).sort(), [...names].sort());
  assert.ok(listed.every((o) => o.size >= 1 && o.size <= 5));
  assert.deepEqual(await collect(neighbour.list('snapshots')), [{ name: objectName(1), size: 1 }]);
  assert.deepEqual(await collect(backend.list('config')), [{ name: 'config', size: 1 }]);
  assert.deepEqual(await collect(neighbour.list('config')), [], 'many-neighbour/config is not many/config');
});

test('azure: readInto reads a range into the caller\'s buffer', async (t) => {
  const server = await startAzurite(t);
  const backend = new AzureBackend(server.options('into'));
  await backend.create();
  const data = seededBytes('into', 300_000);
  await backend.write(packHandle(1), data);
  const into = new Uint8Array(200_000);
  const view = await backend.readInto(packHandle(1), { offset: 1000, length: 150_000 }, into);
  assert.equal(view.buffer, into.buffer);
  assert.deepEqual(Buffer.from(view), data.subarray(1000, 151_000));
  await assert.rejects(backend.readInto(packHandle(1), { offset: 299_000, length: 2000 }, into), { code: 'E_INVALID_RANGE' });
});

test('azure: a wrong key is E_AUTH, a missing container E_TARGET_MISSING, a server that is down unreachable; no message names the key', async (t) => {
  const server = await startAzurite(t);
  const wrongKey = Buffer.from('not the key of this account, padded to 64 bytes ..............').toString('base64');
  const wrong = new AzureBackend({ ...server.options('x'), credentials: { account: AZURITE_ACCOUNT, key: wrongKey, endpoint: server.endpoint } });
  await assert.rejects(wrong.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.transient, false);
    assert.equal(err.message, `azure:hindsight/x refused the account key of the storage account "${AZURITE_ACCOUNT}" (AuthorizationFailure): check AZURE_STORAGE_KEY (or the AccountKey of AZURE_STORAGE_CONNECTION_STRING). If the key is right, the account's firewall may not admit this network.`);
    assert.ok(!err.message.includes(wrongKey));
    return true;
  });
  await assert.rejects(wrong.read(packHandle(1)), { code: 'E_AUTH' });
  const noContainer = new AzureBackend(server.options('x', 'no-such-container'));
  for (const call of [() => noContainer.read({ type: 'config', name: 'config' }), () => noContainer.stat(packHandle(1)), () => collect(noContainer.list('snapshots')), () => noContainer.delete(packHandle(1))]) {
    await assert.rejects(call(), {
      code: 'E_TARGET_MISSING',
      message: `The container "no-such-container" does not exist in the storage account "${AZURITE_ACCOUNT}". Check the repository location, or create it with "hindsight init".`,
    });
  }
  const down = new AzureBackend({ ...server.options('x'), credentials: { account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint: `http://127.0.0.1:${await freePort()}/${AZURITE_ACCOUNT}` } });
  await assert.rejects(down.read(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_UNREACHABLE');
    assert.equal(err.transient, true);
    assert.match(err.message, /^Cannot reach 127\.0\.0\.1:\d+ to read data\/0+1 at azure:hindsight\/x \(ECONNREFUSED\)\.$/);
    return true;
  });
});

test('azure: a server that accepts and never answers times out as a transient E_UNREACHABLE, for a request and for a download that stalls', async (t) => {
  const silent = createServer(() => undefined);
  const held = new Set<Socket>();
  silent.on('connection', (socket) => held.add(socket));
  const port = await freePort();
  await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of held) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const backend = new AzureBackend({ container: 'hindsight', prefix: 'x', credentials: { account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}` }, requestTimeoutMs: 300 });
  for (const call of [() => backend.stat(packHandle(1)), () => backend.read(packHandle(1)), () => collect(backend.list('data')), () => backend.write(packHandle(1), Buffer.alloc(10))]) {
    const started = Date.now();
    await assert.rejects(call(), (err: BackendError) => {
      assert.equal(err.code, 'E_UNREACHABLE');
      assert.equal(err.transient, true);
      assert.match(err.message, /timed out\.$/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, `gave up in ${Date.now() - started} ms`);
  }

  // Headers, then half the body, then silence.
  const stalling = createServer((socket) => {
    held.add(socket);
    socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: "0x8D0"\r\nContent-Type: application/octet-stream\r\n\r\n' + 'x'.repeat(500)));
  });
  const stallingPort = await freePort();
  await new Promise<void>((resolve) => stalling.listen(stallingPort, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => stalling.close(() => resolve())));
  const slow = new AzureBackend({ container: 'hindsight', prefix: 'x', credentials: { account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint: `http://127.0.0.1:${stallingPort}/${AZURITE_ACCOUNT}` }, requestTimeoutMs: 300 });
  await assert.rejects(slow.read(packHandle(1)), { code: 'E_UNREACHABLE', transient: true, message: /timed out\.$/ });
});

test('azure: init creates a missing container; a SAS token for one existing container can init, back up and read, but not make a container', async (t) => {
  const server = await startAzurite(t);
  const fresh = new AzureBackend(server.options('fresh', 'made-by-init'));
  await fresh.create();
  await fresh.write(packHandle(1), Buffer.from('x'));
  assert.deepEqual(await collect(fresh.list('data')), [{ name: objectName(1), size: 1 }]);

  const sas = (container: string, key = AZURITE_KEY) =>
    generateBlobSASQueryParameters(
      { containerName: container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, key),
    ).toString();
  const token = sas('made-by-init');
  const scoped = new AzureBackend({ container: 'made-by-init', prefix: 'sas', credentials: { account: AZURITE_ACCOUNT, sasToken: token, endpoint: server.endpoint } });
  await scoped.create();
  await scoped.write(packHandle(2), seededBytes('sas', 10_000));
  assert.deepEqual(await scoped.read(packHandle(2), { offset: 10, length: 20 }), seededBytes('sas', 10_000).subarray(10, 30));
  assert.deepEqual(await collect(scoped.list('data')), [{ name: objectName(2), size: 10_000 }]);
  await scoped.delete(packHandle(2));
  const forged = sas('made-by-init', Buffer.alloc(64, 1).toString('base64'));
  const wrong = new AzureBackend({ container: 'made-by-init', prefix: 'sas', credentials: { account: AZURITE_ACCOUNT, sasToken: forged, endpoint: server.endpoint } });
  await assert.rejects(wrong.read(packHandle(1)), (err: BackendError) => {
    assert.equal(err.code, 'E_AUTH');
    assert.match(err.message, /^azure:made-by-init\/sas refused the SAS token for the storage account "devstoreaccount1" \(\w+\): check AZURE_STORAGE_SAS_TOKEN/);
    assert.ok(!err.message.includes(forged) && !err.message.includes('sig='));
    return true;
  });

  const elsewhere = new AzureBackend({ container: 'not-made', prefix: 'sas', credentials: { account: AZURITE_ACCOUNT, sasToken: sas('not-made'), endpoint: server.endpoint } });
  await assert.rejects(elsewhere.create(), (err: BackendError) => {
    assert.equal(err.code, 'E_PERMISSION');
    assert.match(err.message, /^Cannot create the container of azure:not-made\/sas: access denied \(Authorization\w+\)\. A SAS token needs/);
    assert.ok(!err.message.includes(token));
    return true;
  });
});

test('azure: credentials come from the environment (a connection string first, then an account with its key or SAS token), unless a key or token is kept for the target', async (t) => {
  const server = await startAzurite(t);
  assert.deepEqual(azureCredentialsFromEnvironment(undefined, { AZURE_STORAGE_CONNECTION_STRING: server.connectionString, AZURE_STORAGE_ACCOUNT: 'other', AZURE_STORAGE_KEY: 'k' }), { connectionString: server.connectionString });
  assert.deepEqual(azureCredentialsFromEnvironment(undefined, { AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_KEY: 'k' }), { account: 'acct', key: 'k' });
  assert.deepEqual(azureCredentialsFromEnvironment('named', { AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_SAS_TOKEN: '?sv=1&sig=x' }), { account: 'named', sasToken: 'sv=1&sig=x' });
  assert.throws(() => azureCredentialsFromEnvironment(undefined, {}), {
    code: 'E_AUTH',
    message: 'No Azure Storage credentials found: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN.',
  });
  assert.throws(() => azureCredentialsFromEnvironment('named', { AZURE_STORAGE_KEY: '' }), { code: 'E_AUTH', message: /set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN for the account "named"/ });

  // A key or token kept for the target (the agent's keychain) wins over the environment; the endpoint goes with whichever signs.
  const env = { AZURE_STORAGE_ACCOUNT: 'acct', AZURE_STORAGE_KEY: 'k' };
  assert.deepEqual(azureCredentialsFor('named', { key: 'kept' }, 'http://127.0.0.1:1/named', env), { account: 'named', key: 'kept', endpoint: 'http://127.0.0.1:1/named' });
  assert.deepEqual(azureCredentialsFor('named', { sasToken: 'sv=2&sig=y' }, undefined, env), { account: 'named', sasToken: 'sv=2&sig=y' });
  assert.deepEqual(azureCredentialsFor(undefined, undefined, 'http://127.0.0.1:1/acct', env), { account: 'acct', key: 'k', endpoint: 'http://127.0.0.1:1/acct' });
  assert.deepEqual(azureCredentialsFor(undefined, undefined, 'http://127.0.0.1:1/acct', { AZURE_STORAGE_CONNECTION_STRING: server.connectionString }), { connectionString: server.connectionString }, 'a connection string names its own endpoint');
  assert.throws(() => azureCredentialsFor(undefined, { key: 'kept' }, undefined, env), { code: 'E_USAGE', message: /is for the storage account its location names: write azure:\/\/ACCOUNT\/container\/prefix/ });

  const viaString = new AzureBackend({ container: 'hindsight', prefix: 'cs', credentials: { connectionString: server.connectionString } });
  await viaString.create();
  assert.equal(viaString.location, 'azure:hindsight/cs');
  assert.throws(() => new AzureBackend({ container: 'hindsight', account: 'someoneelse', credentials: { connectionString: server.connectionString } }), {
    code: 'E_USAGE',
    message: /is for the account "devstoreaccount1", but the location names "someoneelse"/,
  });
  assert.throws(() => new AzureBackend({ container: 'hindsight', credentials: { connectionString: `AccountKey=${AZURITE_KEY};nonsense` } }), (err: Error) => {
    assert.match(err.message, /^AZURE_STORAGE_CONNECTION_STRING is not a valid connection string/);
    assert.ok(!err.message.includes(AZURITE_KEY));
    return true;
  });
});

/** Answered by the relay in Azure's words: throttled. */
const serverBusy = (status: string) => `HTTP/1.1 ${status}\r\nContent-Length: 0\r\nx-ms-error-code: ServerBusy\r\nConnection: close\r\n\r\n`;

/** The account's endpoint through a relay. */
const through = (relay: TcpRelay) => `${relay.url}/${AZURITE_ACCOUNT}`;

test('azure: a large object goes up in blocks with no more than blockConcurrency in flight', async (t) => {
  const server = await startAzurite(t);
  const counted = await startTcpRelay(t, server.port);
  const options = server.options('blocks');
  const backend = new AzureBackend({ ...options, credentials: { ...options.credentials, endpoint: through(counted) }, blockSize: 1 * MiB, blockConcurrency: 3 });
  await backend.create();
  const data = seededBytes('blocks', 10 * MiB + 3);
  await backend.write(packHandle(1), [data.subarray(0, 2_500_000), data.subarray(2_500_000)]);
  assert.ok(counted.mostAtOnce() >= 2 && counted.mostAtOnce() <= 3, `blocks in flight at once: ${counted.mostAtOnce()}`);
  assert.ok((await backend.read(packHandle(1))).equals(data));
});

test('azure: throttling (503 ServerBusy) and server errors are transient and retried through the retry wrapper', async (t) => {
  const server = await startAzurite(t);
  const endpoint = through(await startTcpRelay(t, server.port, { failFirst: 3, answer: serverBusy('503 Service Unavailable') }));
  const events: RetryEvent[] = [];
  const options = server.options('busy');
  const backend = new RetryingBackend(new AzureBackend({ ...options, credentials: { ...options.credentials, endpoint } }), { baseDelayMs: 1, onRetry: (e) => events.push(e) });
  await backend.create();
  await backend.write(packHandle(1), Buffer.from('after the outage'));
  assert.equal((await backend.read(packHandle(1))).toString(), 'after the outage');
  assert.deepEqual(
    events.map((e) => [(e.error as BackendError).code, (e.error as BackendError).transient]),
    [
      ['E_IO', true],
      ['E_IO', true],
      ['E_IO', true],
    ],
  );
  assert.match(String((events[0]?.error as Error).message), /^Azure Storage had a problem trying to open azure:hindsight\/busy \(HTTP 503 ServerBusy\)\.$/);

  const broken = through(await startTcpRelay(t, server.port, { failFirst: 1, answer: serverBusy('500 Internal Server Error') }));
  const other = new AzureBackend({ ...options, credentials: { ...options.credentials, endpoint: broken } });
  await assert.rejects(other.stat(packHandle(1)), { code: 'E_IO', transient: true, message: /HTTP 500/ });
  assert.deepEqual(await other.stat(packHandle(1)), { name: objectName(1), size: 16 });
});
