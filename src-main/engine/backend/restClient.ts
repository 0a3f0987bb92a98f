import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { PinnedAgent } from './pinnedTls.js';

export interface RestClientOptions {
  /** The repository's URL (http: or https:), without credentials. */
  readonly url: URL;
  readonly username?: string;
  readonly password?: string;
  /** PEM certificates trusted besides the system's, for a server with a self-signed certificate. */
  readonly ca?: string | Buffer;
  /** The one certificate trusted, by SHA-256 fingerprint ("AB:CD:…", see `normalizeFingerprint`), instead of any CA. */
  readonly fingerprint?: string;
  /** Connections kept open to the server; requests beyond them wait for one to be free. */
  readonly connections: number;
  /** A request with no progress for this long fails with ETIMEDOUT. */
  readonly timeoutMs: number;
}

/** Bodies of this size and more wait for the server's "100 Continue"; a smaller one fits in the sockets' buffers at once. */
const EXPECT_CONTINUE_BYTES = 64 * 1024;
/** How long a body waits for "100 Continue" before it is sent anyway. */
const CONTINUE_WAIT_MS = 1000;
/**
 * An idle kept-alive connection is closed after this long, or 1 s before the keep-alive time the server
 * announces (`Keep-Alive: timeout=5` from Node's servers), whichever is sooner: Node's agent honours
 * the server's hint only when given a time of its own.
 */
const IDLE_CONNECTION_MS = 30_000;
/** How a request fails when its kept-alive connection was closed by the server as it went out. */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** A request that failed on a reused connection before any answer came: it may go again. */
class StaleConnection extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super(cause.message);
  }
}

export interface RestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RestRequest {
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent back to back with a Content-Length, never joined in memory. */
  readonly body?: readonly Uint8Array[];
  /** Appended to the path as is (`create=true`). */
  readonly query?: string;
}

/**
 * How the REST backend reaches its server: HTTP/1.1 over the network (RestClient), or HTTP/2 over an
 * rclone child's standard input and output (RcloneTransport). A failure of the transport itself
 * rejects: a BackendError when the transport knows best what went wrong, else Node's error with its
 * `code`; any HTTP status is the caller's to judge.
 */
export interface RestTransport {
  /** Sends one request to `path` below the repository's root and reads the whole response. */
  send(method: string, path: string, request?: RestRequest): Promise<RestResponse>;
  /** Whether the server was given a user name or password to log in with. */
  readonly hasCredentials: boolean;
  close(): void | Promise<void>;
}

/**
 * HTTP/1.1 to one server over a pool of kept-alive connections, so a backup's many small requests do
 * not each pay a TCP (and TLS) handshake, and several requests are in flight at once. Network
 * failures come back as Node's errors with their `code` (ECONNREFUSED, ETIMEDOUT, a TLS code);
 * the caller decides what an HTTP status means.
 */
export class RestClient implements RestTransport {
  private readonly agent: HttpAgent;
  private readonly authorization: string | undefined;
  private readonly secure: boolean;
  private readonly host: string;
  private readonly port: number;
  /** The repository's path on the server, ending in "/". */
  private readonly root: string;

  constructor(private readonly options: RestClientOptions) {
    const { url } = options;
    this.secure = url.protocol === 'https:';
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = url.port === '' ? (this.secure ? 443 : 80) : Number(url.port);
    this.root = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
    const pool = { keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections, timeout: IDLE_CONNECTION_MS };
    // Node's `ca` replaces its trusted set: the system's roots stay beside the given certificate, so other targets of the same command still verify.
    if (this.secure && options.fingerprint) this.agent = new PinnedAgent(pool, options.fingerprint);
    else this.agent = this.secure ? new HttpsAgent({ ...pool, ...(options.ca ? { ca: [...rootCertificates, options.ca.toString()] } : {}) }) : new HttpAgent(pool);
    if (options.username !== undefined || options.password !== undefined) {
      this.authorization = `Basic ${Buffer.from(`${options.username ?? ''}:${options.password ?? ''}`).toString('base64')}`;
    }
  }

  /** Whether the server was given a user name or password to log in with. */
  get hasCredentials(): boolean {
    return this.authorization !== undefined;
  }

  /**
   * Sends one request to `path` below the repository's URL and reads the whole response. A kept-alive
   * connection the server closed while it lay idle (its keep-alive time ran out just as this request
   * went out) fails at once, before any answer: the request goes again, at most once per pooled
   * connection, the last time on a new one. Every request of the protocol may be repeated (reads, a
   * delete of a name, an upload of the same bytes to the same name), as Go's client and browsers
   * repeat such requests too.
   */
  async send(method: string, path: string, request: RestRequest = {}): Promise<RestResponse> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(method, path, request);
      } catch (err) {
        if (!(err instanceof StaleConnection)) throw err;
        if (attempt >= this.options.connections) throw err.cause;
      }
    }
  }

  private attempt(method: string, path: string, request: RestRequest): Promise<RestResponse> {
    const parts = (request.body ?? []).filter((part) => part.byteLength > 0);
    let length = 0;
    for (const part of parts) length += part.byteLength;
    const headers: Record<string, string> = { ...request.headers };
    if (this.authorization) headers.Authorization = this.authorization;
    if (request.body) {
      headers['Content-Type'] = 'application/octet-stream';
      headers['Content-Length'] = String(length);
    }
    const expectContinue = length >= EXPECT_CONTINUE_BYTES;
    if (expectContinue) headers.Expect = '100-continue';
    const options = {
      method,
      host: this.host,
      port: this.port,
      path: `${this.root}${path}${request.query ? `?${request.query}` : ''}`,
      headers,
      agent: this.agent,
    };
    return new Promise<RestResponse>((resolve, reject) => {
      let body: 'held back' | 'sent' | 'not wanted' = 'held back';
      let answered = false;
      let waiting: NodeJS.Timeout | undefined;
      const sendBody = () => {
        clearTimeout(waiting);
        if (body !== 'held back') return;
        body = 'sent';
        for (const part of parts) req.write(part);
        req.end();
      };
      const done = (response: IncomingMessage) => {
        answered = true;
        clearTimeout(waiting);
        // Answered before it asked for the body (413 over quota, 403): the body is not sent at all.
        if (body === 'held back') body = 'not wanted';
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        // `on`, not `once`: a second error without a listener would be thrown; settling twice does nothing.
        response.on('error', reject);
        response.once('end', () => {
          // A body cut short by a dropped connection ends without 'complete'.
          if (!response.complete) reject(Object.assign(new Error('the connection closed mid-response'), { code: 'ECONNRESET' }));
          else resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
          // The server still waits for the body that was never sent: this connection cannot carry another request.
          if (body === 'not wanted') req.destroy();
        });
      };
      const req: ClientRequest = this.secure ? httpsRequest(options, done) : httpRequest(options, done);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(waiting);
        reject(req.reusedSocket && !answered && STALE_CONNECTION_CODES.has(err.code ?? '') ? new StaleConnection(err) : err);
      });
      req.setTimeout(this.options.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer for ${this.options.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      if (!expectContinue) return sendBody();
      // The body waits for the server's "100 Continue", so a server that refuses the upload at once answers
      // before a byte is sent rather than closing into a body still on its way (the client would see the
      // connection reset, not the answer). A server or proxy that ignores Expect gets it after a second, as from curl or Go.
      req.once('continue', sendBody);
      waiting = setTimeout(sendBody, CONTINUE_WAIT_MS);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
