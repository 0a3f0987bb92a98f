import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import type { AzureOptions } from '../../src-main/engine/backend/azureBackend.js';
import { stopWhenDone, waitForPort } from './serverProcess.js';
import { freePort } from './sshServer.js';
import { tempDir } from './tempDir.js';

/** Azurite's one built-in account and its published key (the emulator's, as in Microsoft's documentation). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzureServer {
  /** http://127.0.0.1:PORT/devstoreaccount1: the account's blob endpoint, path-style as Azurite serves it. */
  readonly endpoint: string;
  readonly port: number;
  /** A connection string for the account with its key, as a user sets AZURE_STORAGE_CONNECTION_STRING. */
  readonly connectionString: string;
  /** Options for an AzureBackend on this server with the account key: repository at `prefix` in `container`. */
  options(prefix: string, container?: string): AzureOptions;
  stop(): Promise<void>;
}

const azuriteBlob = (() => {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('azurite/package.json');
  const bin = (require(manifest) as { bin: Record<string, string> }).bin['azurite-blob'] as string;
  return join(dirname(manifest), bin);
})();

/**
 * Azurite's blob service (Microsoft's Azure Storage emulator) in its own process on a free port of
 * 127.0.0.1, keeping its blobs in a temporary folder; killed when the test ends. Its telemetry is off:
 * nothing leaves the machine. The API version check is skipped because the SDK may be newer than the
 * emulator; the protocol Hindsight uses (block blobs, ranged GETs, flat listings) is old and stable.
 */
export async function startAzurite(t: TestContext): Promise<AzureServer> {
  const directory = await tempDir(t, 'hindsight-azurite-');
  const port = await freePort();
  const args = [azuriteBlob, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', directory, '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose'];
  const child = spawn(process.execPath, args, { cwd: directory, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const stop = stopWhenDone(t, child);
  await waitForPort(port, child, () => log, 'azurite-blob', 30_000);
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    endpoint,
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    options: (prefix, container = 'hindsight') => ({ container, prefix, credentials: { account: AZURITE_ACCOUNT, key: AZURITE_KEY, endpoint } }),
    stop,
  };
}
