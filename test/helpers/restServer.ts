import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { RestOptions } from '../../src-main/engine/backend/restBackend.js';
import { stopWhenDone, waitForPort } from './serverProcess.js';
import { freePort } from './sshServer.js';
import { tempDir } from './tempDir.js';

export const RCLONE = '/usr/bin/rclone';

/**
 * A password as rclone takes it in its config and variables (its reversible obscuring), by rclone itself;
 * after `--`, so that a password beginning with '-' is not taken for a flag.
 */
export function obscured(password: string): string {
  return execFileSync(RCLONE, ['obscure', '--', password], { encoding: 'utf8' }).trim();
}
export const REST_USER = 'hindsight';
export const REST_PASSWORD = 'rest secret 42';

/** Why the REST tests cannot run here, or undefined when they can. */
export function rcloneMissing(): string | undefined {
  return existsSync(RCLONE) ? undefined : `rclone not installed (${RCLONE} missing; apt-get install rclone)`;
}

export interface RestServerOptions {
  /** Serve with --append-only: objects are added, never deleted (locks excepted) or replaced. */
  readonly appendOnly?: boolean;
  /** HTTPS with a self-signed certificate for 127.0.0.1 (see `certificate`). */
  readonly tls?: boolean;
  /** Serve this folder rather than a new one: a restart with other options. */
  readonly directory?: string;
}

export interface RestServer {
  /** http://127.0.0.1:PORT (or https://), without credentials. */
  readonly url: string;
  readonly port: number;
  /** The folder rclone serves; a repository at URL path /x is its subfolder x. */
  readonly directory: string;
  /** The self-signed certificate's PEM file, with `tls`. */
  readonly certificate: string | undefined;
  /** Options for a RestBackend on this server, repository at `path`, logged in as the test user. */
  options(path: string): RestOptions;
  stop(): Promise<void>;
}

/**
 * `rclone serve restic` (restic's REST protocol v2) on a free port of 127.0.0.1, serving a temporary
 * folder with basic authentication; stopped when the test ends.
 */
export async function startRestServer(t: TestContext, options: RestServerOptions = {}): Promise<RestServer> {
  const dir = await tempDir(t, 'hindsight-rest-');
  const directory = options.directory ?? join(dir, 'served');
  const config = join(dir, 'rclone.conf');
  await writeFile(config, '');
  let certificate: string | undefined;
  const tlsArgs: string[] = [];
  if (options.tls) {
    certificate = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', certificate, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    tlsArgs.push('--cert', certificate, '--key', key);
  }
  const port = await freePort();
  const args = ['serve', 'restic', '--config', config, '--addr', `127.0.0.1:${port}`, '--user', REST_USER, '--pass', REST_PASSWORD, ...tlsArgs, ...(options.appendOnly ? ['--append-only'] : []), directory];
  const child = spawn(RCLONE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const stop = stopWhenDone(t, child);
  await waitForPort(port, child, () => log, 'rclone serve restic');
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return {
    url,
    port,
    directory,
    certificate,
    options: (path) => ({ url: `${url}/${path.replace(/^\/+/, '')}`, username: REST_USER, password: REST_PASSWORD }),
    stop,
  };
}
