import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RestOptions } from '../../src-main/engine/backend/restBackend.js';
import { tempDir } from './tempDir.js';

/** bin/hindsight.js, from the compiled helpers (build/test/helpers) or from their sources (the UI tests run them as TypeScript). */
export const HINDSIGHT_BIN = fileURLToPath(new URL(import.meta.url.includes('/build/test/') ? '../../../bin/hindsight.js' : '../../bin/hindsight.js', import.meta.url));

/** The password of every user the helpers add unless told otherwise. */
export const SERVER_PASSWORD = 'server secret 7';

export interface ServerUserSpec {
  readonly name: string;
  readonly password?: string;
  /** More `server user add` options: --append-only, --admin, --quota SIZE, --repos PREFIX. */
  readonly args?: readonly string[];
}

/** The environment of a `hindsight` child: this one's, without any HINDSIGHT_ variable of the test runner. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('HINDSIGHT_'))), ...extra };
}

/** `hindsight server user add` through the CLI, the password from HINDSIGHT_SERVER_PASSWORD. */
export function addServerUser(data: string, user: ServerUserSpec): void {
  const result = spawnSync(process.execPath, [HINDSIGHT_BIN, 'server', 'user', 'add', user.name, '--data', data, ...(user.args ?? [])], {
    env: cleanEnv({ HINDSIGHT_SERVER_PASSWORD: user.password ?? SERVER_PASSWORD }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0) throw new Error(`server user add ${user.name} failed (${result.status}): ${result.stdout}${result.stderr}`);
}

export interface HindsightServerOptions {
  /** Serve this folder (a restart); default a new one. */
  readonly data?: string;
  /** Added before the start; default one user, alice, unless `data` is given (a restart keeps its users). */
  readonly users?: readonly ServerUserSpec[];
  /** More arguments for `hindsight server` (--tls-self-signed, --max-upload …). */
  readonly args?: readonly string[];
  /** More environment for the server (AWS credentials for --storage s3:…). */
  readonly env?: Record<string, string>;
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
  /** Everything it wrote to standard output so far (its start-up lines). */
  output(): string;
  /** Resolves once the log matches `pattern` (it comes through a pipe, a moment after the answer); fails after 5 s. */
  waitForLog(pattern: RegExp): Promise<void>;
  /** Options for a RestBackend on the repository at `path`, logged in as `user` (default alice, SERVER_PASSWORD). */
  options(path: string, user?: string, password?: string): RestOptions;
  /** SIGKILL, or `signal`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `hindsight server` as its own process on a free port of 127.0.0.1 (it picks one: --listen
 * 127.0.0.1:0, and prints it), serving a temporary folder; killed when the test ends.
 */
export async function startHindsightServer(t: TestContext, options: HindsightServerOptions = {}): Promise<HindsightServer> {
  const data = options.data ?? join(await tempDir(t, 'hindsight-server-'), 'data');
  for (const user of options.users ?? (options.data ? [] : [{ name: 'alice' }])) addServerUser(data, user);
  const child = spawn(process.execPath, [HINDSIGHT_BIN, 'server', '--data', data, '--listen', '127.0.0.1:0', ...(options.args ?? [])], { env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
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
    output: () => out,
    waitForLog: async (pattern) => {
      for (const deadline = Date.now() + 5000; !pattern.test(err); await new Promise((resolve) => setTimeout(resolve, 20))) {
        if (Date.now() > deadline) throw new Error(`the server's log never matched ${pattern}: ${err}`);
      }
    },
    options: (path, user = 'alice', password = SERVER_PASSWORD) => ({ url: `${url}/${path.replace(/^\/+/, '')}`, username: user, password }),
    stop,
  };
}
