import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

/** The project's root: this file runs from test/helpers in the UI tests (Playwright reads the source) and from build/test/helpers in the benchmarks. */
const ROOT = new URL(import.meta.url.includes('/build/test/') ? '../../../' : '../../', import.meta.url);
export const BIN = fileURLToPath(new URL('bin/hindsight.js', ROOT));
export const SCREENS = fileURLToPath(new URL('test-results/screens/', ROOT));

export interface ServeProcess {
  /** The URL with the token, as printed. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  /** A fresh folder for this test's sources, repositories and restores. */
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly output: string[];
  /** The serve process's id (its agent runs inside it when none was running). */
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `hindsight serve --port 0` with its own data folder and HOME, and no
 * D-Bus session (so no keychain: passwords stay in the agent's session, as on
 * a headless server), and waits for the URL it prints. `extraEnv` adds to its environment (RCLONE_CONFIG…).
 */
export async function startServe(extraEnv: Record<string, string> = {}): Promise<ServeProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'hindsight-ui-'));
  await mkdir(join(dir, 'home'), { recursive: true });
  const { DBUS_SESSION_BUS_ADDRESS: _bus, HINDSIGHT_PASSWORD: _password, HINDSIGHT_REPO: _repo, ...inherited } = process.env;
  const env = { ...inherited, HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache'), XDG_CONFIG_HOME: join(dir, 'config'), HINDSIGHT_DATA_DIR: join(dir, 'data'), ...extraEnv };
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hindsight serve printed no URL in 30 s:\n${output.join('')}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const match = /^Open (http:\/\/\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`hindsight serve exited with ${code}:\n${output.join('\n')}`)));
  });
  const parsed = new URL(url);
  return {
    url,
    origin: parsed.origin,
    token: parsed.searchParams.get('token')!,
    dir,
    env,
    output,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One call of the API over serve's WebSocket, as the page makes them (with the page's cookie and origin). */
export function callAgent(serve: ServeProcess, method: string, params: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${serve.origin.replace('http', 'ws')}/api`, { headers: { cookie: `hindsight-token=${serve.token}`, origin: serve.origin } });
    ws.once('open', () => ws.send(JSON.stringify({ type: 'request', id: 1, method, params })));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: number; ok?: boolean; result?: unknown; error?: { message: string } };
      if (message.type !== 'response' || message.id !== 1) return;
      ws.close();
      if (message.ok) resolve(message.result);
      else reject(new Error(message.error?.message));
    });
    ws.once('error', reject);
  });
}
