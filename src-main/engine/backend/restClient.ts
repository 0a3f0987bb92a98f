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
    const pool = { keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections };
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

  /** Sends one request to `path` below the repository's URL and reads the whole response. */
  send(method: string, path: string, request: RestRequest = {}): Promise<RestResponse> {
    const parts = (request.body ?? []).filter((part) => part.byteLength > 0);
    let length = 0;
    for (const part of parts) length += part.byteLength;
    const headers: Record<string, string> = { ...request.headers };
    if (this.authorization) headers.Authorization = this.authorization;
    if (request.body) {
      headers['Content-Type'] = 'application/octet-stream';
      headers['Content-Length'] = String(length);
    }
    const options = {
      method,
      host: this.host,
      port: this.port,
      path: `${this.root}${path}${request.query ? `?${request.query}` : ''}`,
      headers,
      agent: this.agent,
    };
    return new Promise<RestResponse>((resolve, reject) => {
      const done = (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        // `on`, not `once`: a second error without a listener would be thrown; settling twice does nothing.
        response.on('error', reject);
        response.once('end', () => {
          // A body cut short by a dropped connection ends without 'complete'.
          if (!response.complete) reject(Object.assign(new Error('the connection closed mid-response'), { code: 'ECONNRESET' }));
          else resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
        });
      };
      const req: ClientRequest = this.secure ? httpsRequest(options, done) : httpRequest(options, done);
      req.on('error', reject);
      req.setTimeout(this.options.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer for ${this.options.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
      for (const part of parts) req.write(part);
      req.end();
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
