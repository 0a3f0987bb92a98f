import { HindsightError } from '../../src-shared/errors.js';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse as HttpResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { AccessTokens } from './accessTokens.js';
import { Authenticator } from './authenticator.js';
import { ServerMetrics } from './serverMetrics.js';
import { LoginLimiter } from './loginLimiter.js';
import { RestHandler, sendRefusal, type RestHandlerOptions, type ServerRequest, type ServerResponse } from './restHandler.js';
import { permissionsFor } from './tenancy.js';
import type { UserDirectory } from './userFile.js';

export interface RepositoryServerOptions extends RestHandlerOptions {
  /** Who may log in; read again when the user file changes. */
  readonly users: UserDirectory;
  /** Signs and checks the access tokens of POST /login. */
  readonly tokens: AccessTokens;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM certificate chain and key: HTTPS with HTTP/2 (and HTTP/1.1 for clients without it). Without: plain HTTP/1.1. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface RepositoryServer {
  /** http(s)://host:port, for messages. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and ends open connections (an upload in flight leaves nothing behind: it was never renamed). */
  close(): Promise<void>;
}

/** A failure to start, with the reason a person needs (the port taken, the address not this machine's). */
export class ServerStartError extends HindsightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_SERVER_START', message, options);
  }
}

/** Starts `hindsight server`'s HTTP side: the REST protocol over node:http or node:http2. */
export async function startRepositoryServer(options: RepositoryServerOptions): Promise<RepositoryServer> {
  const handler = new RestHandler(options);
  const authenticator = new Authenticator(options.users, new LoginLimiter(), options.tokens);
  const metrics = new ServerMetrics();
  const serve = async (req: IncomingMessage | Http2ServerRequest, res: HttpResponse | Http2ServerResponse) => {
    const request = req as unknown as ServerRequest;
    const response = res as unknown as ServerResponse;
    response.once('finish', () => metrics.request(request.method ?? '', response.statusCode));
    const address = request.socket.remoteAddress ?? '?';
    try {
      await answer(request, response, address);
    } catch (err) {
      // Not a refusal the protocol knows (the handler turns those into answers): the user file, the token key.
      options.log(`${address} ${request.method} ${request.url?.slice(0, 200)}: 500 ${(err as Error).message}`);
      if (!response.headersSent) sendRefusal(request, response, 500, 'the server could not answer this request; its log says why');
    }
  };
  const answer = async (request: ServerRequest, response: ServerResponse, address: string) => {
    const login = await authenticator.authenticate(request.headers.authorization, address);
    if (!login.user) {
      if (login.status === 429) {
        options.log(`${address}: 429 held off after too many failed logins`);
        return sendRefusal(request, response, 429, 'too many failed logins from this address; try again later', { 'Retry-After': login.retryAfterSeconds });
      }
      // The same answer whatever failed (no such user, wrong password, nothing sent) and whatever the path.
      if (request.headers.authorization) metrics.failedLogin();
      if (request.headers.authorization) options.log(`${address} ${request.method} ${request.url?.slice(0, 200)}: 401 ${login.reason}`);
      return sendRefusal(request, response, 401, 'a user name and password are needed, and these were not right', { 'WWW-Authenticate': 'Basic realm="hindsight", charset="UTF-8"' });
    }
    const who = `${login.user.name}@${address}`;
    const path = new URL(request.url ?? '/', 'http://server').pathname;
    if (path === '/login') {
      if (request.method !== 'POST') return sendRefusal(request, response, 405, 'POST /login, with the user name and password, gives an access token');
      if (!login.withPassword) return sendRefusal(request, response, 403, 'log in with the password, not a token, to get a token');
      const { token, expires } = await options.tokens.issue(login.user);
      options.log(`${who}: gave an access token until ${expires.toISOString()}`);
      return sendJson(response, 200, 'application/json', JSON.stringify({ token, tokenType: 'Bearer', expires: expires.toISOString() }));
    }
    if (path === '/metrics') {
      if (!login.user.admin) return sendRefusal(request, response, 403, 'only an admin user may read the metrics');
      return sendJson(response, 200, 'text/plain; version=0.0.4; charset=utf-8', await metrics.render(options.users, options.usage));
    }
    await handler.handle(request, response, permissionsFor(login.user), who);
  };
  const sockets = new Set<Socket>();
  // With a 'checkContinue' listener Node no longer answers `Expect: 100-continue` at once by itself:
  // an upload asks for its body only once the checks before it pass (see receiveBody).
  let server: HttpServer | Http2SecureServer;
  if (options.tls) {
    // allowHTTP1: restic and rclone negotiate HTTP/2 through ALPN, curl and older clients HTTP/1.1.
    server = createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true }, (req, res) => void serve(req, res));
    server.on('secureConnection', (socket: Socket) => track(sockets, socket));
    server.on('checkContinue', (req, res) => void serve(req, res));
  } else {
    server = createHttpServer({ requestTimeout: 0 }, (req, res) => void serve(req, res));
    server.on('connection', (socket: Socket) => track(sockets, socket));
    server.on('checkContinue', (req, res) => void serve(req, res));
  }
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      const reason =
        err.code === 'EADDRINUSE'
          ? `port ${options.port} on ${options.host} is in use by another program`
          : err.code === 'EADDRNOTAVAIL'
            ? `${options.host} is not an address of this machine`
            : err.code === 'EACCES'
              ? `listening on port ${options.port} needs privileges (use a port above 1023)`
              : err.message;
      reject(new ServerStartError(`Cannot listen on ${options.host}:${options.port}: ${reason}.`, { cause: err }));
    };
    server.once('error', failed);
    server.listen(options.port, options.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function sendJson(res: ServerResponse, status: number, type: string, text: string): void {
  const body = Buffer.from(text);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  res.end(body);
}

function track(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
}
