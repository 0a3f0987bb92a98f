import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fetchServerCertificate } from '../../../src-main/engine/backend/serverCertificate.js';
import { startHindsightServer } from '../../helpers/hindsightServer.js';
import { freePort } from '../../helpers/sshServer.js';

test('fetchServerCertificate: hindsight server\'s self-signed certificate, with the fingerprint it printed; nothing listening and a plain HTTP server each said in a line', async (t) => {
  const server = await startHindsightServer(t, { args: ['--tls-self-signed'] });
  const shown = await fetchServerCertificate('127.0.0.1', server.port);
  assert.equal(shown.fingerprint, server.fingerprint);
  assert.equal(shown.trusted, false);
  assert.equal(shown.problem, 'self-signed');
  assert.ok(Date.parse(shown.validTo) > Date.now());
  assert.equal((await fetchServerCertificate('127.0.0.1', server.port)).fingerprint, shown.fingerprint, 'the same each time');
  assert.doesNotMatch(server.log(), /401|login/i, 'no request was made, no password sent');

  const closed = await freePort();
  await assert.rejects(fetchServerCertificate('127.0.0.1', closed), { code: 'E_UNREACHABLE', message: `Cannot reach an HTTPS server at 127.0.0.1:${closed}: nothing listens there.` });
  const plain = createServer((_req, res) => res.end('plain'));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  t.after(() => plain.close());
  const { port } = plain.address() as AddressInfo;
  await assert.rejects(fetchServerCertificate('127.0.0.1', port, 3000), { code: 'E_UNREACHABLE', message: /does not speak TLS|did not complete a TLS handshake/ });
});
