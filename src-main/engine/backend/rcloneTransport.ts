import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { Duplex, type Readable, type Writable } from 'node:stream';
import { HindsightError } from '../../../src-shared/errors.js';
import { BackendError } from './backend.js';
import type { RestRequest, RestResponse, RestTransport } from './restClient.js';
import { drained } from '../writableDrained.js';

export interface RcloneOptions {
  /** rclone's REMOTE:PATH (or any path rclone takes: a local folder, `:backend,option=…:path`). */
  readonly remote: string;
  /** The rclone program, a name on the PATH or a path (default "rclone"). */
  readonly program?: string;
  /** What is run before the remote (default RCLONE_ARGS): any must serve restic's REST protocol over stdio. */
  readonly args?: readonly string[];
  /** Requests in flight at once over the one HTTP/2 connection (default 8). */
  readonly streams?: number;
  /** A request with no progress for this long fails (default 60 s). */
  readonly timeoutMs?: number;
}

/** As restic runs it: `--b2-hard-delete` so a delete on B2 frees the space instead of hiding a version. */
export const RCLONE_ARGS: readonly string[] = ['serve', 'restic', '--stdio', '--b2-hard-delete'];

type RcloneChild = ChildProcessByStdio<Writable, Readable, Readable>;

interface Started {
  readonly child: RcloneChild;
  readonly session: ClientHttp2Session;
  /** Resolves once rclone has exited (or never started) and its standard error is read. */
  readonly exited: Promise<void>;
}

/** rclone children still running, killed if this process exits without closing them. */
const running = new Set<RcloneChild>();
let exitHook = false;

function track(child: RcloneChild): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHook) {
    exitHook = true;
    // rclone also stops when its standard input closes, which is what a killed Node leaves behind.
    process.once('exit', () => {
      for (const each of running) each.kill('SIGKILL');
    });
  }
}

/** How much of rclone's standard error is kept for messages. */
const STDERR_KEPT = 16 * 1024;

/**
 * restic's REST protocol over HTTP/2 on the standard input and output of `rclone serve restic --stdio
 * REMOTE:PATH`, which Hindsight starts on first use and stops on close, as restic does. rclone's own
 * configuration (rclone.conf, RCLONE_CONFIG, RCLONE_* variables) applies unchanged.
 *
 * rclone retries its remote's passing errors itself, so an rclone that exits is not one: its exit
 * status and the last line of its standard error become one permanent error, and every later request
 * fails with it. What was written before stays whole (packs before the index that names them), so the
 * command run again completes.
 */
export class RcloneTransport implements RestTransport {
  readonly hasCredentials = false;
  private readonly program: string;
  private readonly location: string;
  private starting: Promise<Started> | undefined;
  private started: Started | undefined;
  /** Set once rclone cannot serve any more: every request fails with it. */
  private dead: BackendError | undefined;
  private stderr = '';
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(private readonly options: RcloneOptions) {
    this.program = options.program ?? 'rclone';
    this.location = `rclone:${options.remote}`;
  }

  async send(method: string, path: string, request: RestRequest = {}): Promise<RestResponse> {
    await this.slot();
    try {
      const { session } = await this.start();
      return await this.exchange(session, method, path, request);
    } catch (err) {
      throw await this.explain(err);
    } finally {
      this.release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const started = this.started;
    if (!started) return;
    started.session.close();
    // rclone ends on end of input; one that does not is stopped.
    started.child.stdin.end();
    const timer = setTimeout(() => started.child.kill('SIGKILL'), 3000);
    await started.exited;
    clearTimeout(timer);
  }

  /** Starts rclone and connects to it, once. */
  private start(): Promise<Started> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closed) return Promise.reject(new BackendError('E_IO', `${this.location} was closed.`));
    return (this.starting ??= this.launch());
  }

  private async launch(): Promise<Started> {
    const args = [...(this.options.args ?? RCLONE_ARGS), this.options.remote];
    const child = spawn(this.program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        this.dead ??= this.notStarted(err);
        resolve();
      });
      // 'close', not 'exit': by then all rclone wrote to its standard error has been read.
      child.once('close', (code, signal) => {
        this.dead ??= this.stopped(code, signal);
        resolve();
      });
    });
    // No process (ENOENT and the like): its error comes on the next tick, and there is nothing to connect to.
    if (child.pid === undefined) {
      await exited;
      throw this.dead;
    }
    track(child);
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
    });
    const pipe = new ChildPipe(child);
    pipe.on('error', () => undefined);
    // The session ends itself when rclone's output ends; its errors reach the requests.
    const session = connect('http://rclone', { createConnection: () => pipe, settings: { initialWindowSize: WINDOW }, maxSessionMemory: 64 });
    session.on('error', () => undefined);
    session.once('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    this.started = { child, session, exited };
    return this.started;
  }

  private exchange(session: ClientHttp2Session, method: string, path: string, request: RestRequest): Promise<RestResponse> {
    const parts = (request.body ?? []).filter((part) => part.byteLength > 0);
    let length = 0;
    for (const part of parts) length += part.byteLength;
    const headers: Record<string, string> = {
      ':method': method,
      ':path': `/${path}${request.query ? `?${request.query}` : ''}`,
      ...request.headers,
    };
    if (request.body) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(length);
    }
    return new Promise<RestResponse>((resolve, reject) => {
      const stream: ClientHttp2Stream = session.request(headers, { endStream: !request.body });
      let status = 0;
      let responseHeaders: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      stream.on('response', (received) => {
        status = Number(received[':status']);
        responseHeaders = received as Record<string, string | string[] | undefined>;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      // `on`, not `once`: a second error without a listener would be thrown; settling twice does nothing.
      stream.on('error', reject);
      stream.once('close', () => {
        // A stream cut short (rclone gone, a reset) closes without a status or with an error code.
        if (status === 0 || stream.rstCode !== constants.NGHTTP2_NO_ERROR) reject(Object.assign(new Error('the stream closed mid-response'), { code: 'ECONNRESET' }));
        else resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) });
      });
      stream.setTimeout(this.options.timeoutMs ?? 60_000, () => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(Object.assign(new Error(`no answer for ${(this.options.timeoutMs ?? 60_000) / 1000} s`), { code: 'ETIMEDOUT' }));
      });
      if (request.body) void writeBody(stream, parts);
    });
  }

  /**
   * What a failed request means: when rclone is gone (or is going: its exit comes a moment after the
   * connection drops), why it went; otherwise a passing failure of one request, worth another try.
   */
  private async explain(err: unknown): Promise<BackendError> {
    if (err instanceof BackendError) return err;
    const started = this.started;
    if (started && !this.dead) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([started.exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
    }
    if (this.dead) return this.dead;
    const code = (err as { code?: string } | undefined)?.code ?? '';
    return new BackendError('E_UNREACHABLE', `A request to rclone serving ${this.location} failed (${code || (err as Error).message}).`, { cause: err, transient: true });
  }

  private notStarted(err: NodeJS.ErrnoException): BackendError {
    if (err.code === 'ENOENT') {
      return new BackendError(
        'E_UNREACHABLE',
        this.options.program === undefined
          ? `rclone is not installed (no "rclone" program on the PATH), and ${this.location} needs it: install rclone (apt install rclone, or https://rclone.org/install/), or give its path with --rclone-program.`
          : `The rclone program ${this.program} given with --rclone-program does not exist.`,
        { cause: err },
      );
    }
    return new BackendError('E_UNREACHABLE', `Cannot start rclone (${this.program}) for ${this.location}: ${err.message}.`, { cause: err });
  }

  private stopped(code: number | null, signal: NodeJS.Signals | null): BackendError {
    if (this.closed) return new BackendError('E_IO', `${this.location} was closed.`);
    const said = lastMeaningfulLine(this.stderr);
    const missing = /didn't find section in config file/.exec(said);
    if (missing) {
      const name = /^:?([^:]*):/.exec(this.options.remote)?.[1] ?? this.options.remote;
      return new BackendError('E_TARGET_MISSING', `rclone has no remote "${name}" (${said}): list yours with "rclone listremotes", add one with "rclone config".`);
    }
    const how = signal ? `was stopped by ${signal}` : `exited with status ${code}`;
    return new BackendError('E_UNREACHABLE', `rclone serving ${this.location} ${how}${said ? `: ${said}` : ''}. Whatever it was doing did not finish; run the command again.`);
  }

  private async slot(): Promise<void> {
    const limit = this.options.streams ?? 8;
    while (this.inFlight >= limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight += 1;
  }

  private release(): void {
    this.inFlight -= 1;
    this.waiting.shift()?.();
  }
}

/** What is handed to a stream at once: a pack is sent in slices, each when the one before has gone. */
const SLICE = 1024 * 1024;

/** Sends `parts` and ends the stream, keeping to HTTP/2's flow control rather than queueing whole packs in memory. */
async function writeBody(stream: ClientHttp2Stream, parts: readonly Uint8Array[]): Promise<void> {
  for (const part of parts) {
    for (let offset = 0; offset < part.byteLength; offset += SLICE) {
      if (stream.destroyed) return;
      if (!stream.write(part.subarray(offset, offset + SLICE))) await drained(stream);
    }
  }
  if (!stream.destroyed) stream.end();
}

/**
 * rclone's standard output and input as the one connection HTTP/2 runs on. Unlike Duplex.from, its end
 * is never held up by an rclone that has gone (the session's shutdown then waited forever, and Node's
 * stream wrapper asserts on a write after a shutdown it still waits for); writes to a gone rclone are
 * dropped, since its exit already says why requests fail.
 */
class ChildPipe extends Duplex {
  constructor(private readonly child: RcloneChild) {
    super();
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stdout.once('end', () => this.push(null));
    child.stdin.on('error', () => undefined);
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.child.stdin.writable) return callback();
    this.child.stdin.write(chunk, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child.stdin.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.child.stdin.destroy();
    callback(error);
  }
}

/** Each stream may receive this much before the reader takes it: a pack's worth per read. */
const WINDOW = 8 * 1024 * 1024;
/** All streams together. */
const SESSION_WINDOW = 32 * 1024 * 1024;

/**
 * The line of rclone's standard error that says what went wrong: the last error it logged, else its
 * last line, without the date and time it starts with.
 */
export function lastMeaningfulLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(\.\d+)?\s*/, '').trim())
    .filter((line) => line !== '');
  const errors = lines.filter((line) => /^(ERROR|CRITICAL)\b|^Failed\b|^Fatal\b/i.test(line));
  return (errors.at(-1) ?? lines.at(-1) ?? '').replace(/^(ERROR|CRITICAL|NOTICE)\s*:\s*/, '');
}

/**
 * --rclone-args as rclone is given them: words split at spaces, a word in single or double quotes kept
 * whole (a path with spaces). No shell runs: nothing else is special.
 */
export function splitArguments(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of line) {
    if (quote) {
      if (char === quote) quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote) throw new HindsightError('E_USAGE', `The rclone arguments "${line}" leave a ${quote === '"' ? 'double' : 'single'} quote open.`);
  if (word !== undefined) words.push(word);
  return words;
}
