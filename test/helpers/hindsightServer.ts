import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RestOptions } from '../../src-main/engine/backend/restBackend.js';
import { tempDir } from './tempDir.js';

export const HINDSIGHT_BIN = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

export interface HindsightServerOptions {
  /** Serve this folder (a restart); default a new one. */
  readonly data?: string;
  /** More arguments for `hindsight server` (--tls-self-signed, --max-upload …). */
  readonly args?: readonly string[];
}

export interface HindsightServer {
  /** http(s)://127.0.0.1:PORT, as the server printed it. */
  readonly url: string;
  readonly port: number;
  readonly data: string;
  /** The TLS fingerprint the server printed, with --tls-self-signed or --tls-cert. */
  readonly fingerprint: string | undefined;
  readonly process: ChildProcess;
  /** Everything the server wrote to standard error so far (its log). */
  log(): string;
  /** Options for a RestBackend on the repository at `path` (credentials given by the caller). */
  options(path: string, credentials?: { username: string; password: string }): RestOptions;
  /** SIGKILL, or `signal`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `hindsight server` as its own process on a free port of 127.0.0.1 (it picks one: --listen
 * 127.0.0.1:0, and prints it), serving a temporary folder; killed when the test ends.
 */
export async function startHindsightServer(t: TestContext, options: HindsightServerOptions = {}): Promise<HindsightServer> {
  const data = options.data ?? join(await tempDir(t, 'hindsight-server-'), 'data');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('HINDSIGHT_')));
  const child = spawn(process.execPath, [HINDSIGHT_BIN, 'server', '--data', data, '--listen', '127.0.0.1:0', ...(options.args ?? [])], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  };
  t.after(() => stop());
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hindsight server did not start in 20 s: ${out}${err}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match && out.includes('\n', match.index)) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hindsight server exited with status ${code}: ${out}${err}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    data,
    fingerprint: /fingerprint (SHA256:[0-9A-F:]+)/.exec(out)?.[1],
    process: child,
    log: () => err,
    options: (path, credentials) => ({ url: `${url}/${path.replace(/^\/+/, '')}`, ...(credentials ?? {}) }),
    stop,
  };
}
