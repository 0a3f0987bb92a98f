import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventMessage } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import { presentedToken, tokenCookie, tokenMatches } from './accessToken.js';
import type { AgentAccess } from '../agent/agentAccess.js';
import { sendDownload } from './download.js';
import { rendererContentSecurityPolicy } from '../renderer/rendererFiles.js';
import { sendStatic } from './staticFiles.js';

export interface ServeOptions {
  readonly endpoint: AgentAccess;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly token: string;
  /** The built renderer (index.html and assets/). */
  readonly rendererDir: string;
}

export interface RunningServer {
  /** Where the UI is, with the token: opening it once sets the cookie. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The WebSocket path; everything of the API contract goes through it. */
export const API_PATH = '/api';
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Addresses that only this machine can reach. */
export const LOOPBACK: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The HTTP + WebSocket server of `hindsight serve`: serves the built UI and
 * carries the API contract over a WebSocket. Every request needs the access
 * token (cookie or Bearer header). Cross-site requests get nothing: the
 * cookie is SameSite=Strict, the WebSocket must come from this origin, the
 * HTTP side only reads (GET/HEAD), and on loopback the Host header must name
 * loopback, so a DNS-rebinding page cannot reach the server either.
 */
export async function startServeServer(options: ServeOptions): Promise<RunningServer> {
  const { endpoint, token } = options;
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let port = options.port;
  const loopbackOnly = LOOPBACK.has(options.host);

  const hostAllowed = (request: IncomingMessage): boolean => {
    if (!loopbackOnly) return true;
    const host = request.headers.host ?? '';
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host);
  };

  const server = createServer((request, response) => {
    void handle(request, response).catch((err: unknown) => {
      if (!response.headersSent) respond(response, 500, `Something went wrong: ${(err as Error).message}`);
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (!hostAllowed(request)) return respond(response, 403, 'This server answers only to 127.0.0.1 and localhost.');
    if (request.method !== 'GET' && request.method !== 'HEAD') return respond(response, 405, 'Only GET and HEAD are served here.');
    const offered = url.searchParams.get('token');
    if (offered !== null) {
      if (!tokenMatches(token, offered)) return respond(response, 401, 'That access token is wrong. Use the URL that "hindsight serve" printed.');
      url.searchParams.delete('token');
      // Moves the token from the address bar and history into a cookie.
      response.writeHead(303, { ...securityHeaders(request), location: url.pathname + url.search, 'set-cookie': tokenCookie(token) });
      response.end();
      return;
    }
    if (!tokenMatches(token, presentedToken(request))) {
      return respond(response, 401, 'Hindsight needs its access token: open the URL that "hindsight serve" printed (it ends in ?token=…).');
    }
    if (url.pathname === '/download') return sendDownload(endpoint, url.searchParams, response, securityHeaders(request));
    return sendStatic(options.rendererDir, url.pathname, response, securityHeaders(request));
  }

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (url.pathname !== API_PATH) return refuse(404, 'Not Found');
    if (!hostAllowed(request)) return refuse(403, 'Forbidden');
    if (!tokenMatches(token, presentedToken(request) ?? url.searchParams.get('token') ?? undefined)) return refuse(401, 'Unauthorized');
    // Browsers always send Origin on a WebSocket; a page of another site would send its own.
    if (request.headers.origin !== undefined && request.headers.origin !== `http://${request.headers.host}`) return refuse(403, 'Forbidden');
    sockets.handleUpgrade(request, socket, head, (ws) => serveSocket(ws));
  });

  function serveSocket(ws: WebSocket): void {
    const unsubscribe = endpoint.onEvent((event) => send(ws, { type: 'event', event } satisfies EventMessage));
    ws.on('message', (data, isBinary) => {
      let raw: unknown;
      try {
        raw = JSON.parse(isBinary ? '' : data.toString());
      } catch {
        return send(ws, { type: 'response', id: null, ok: false, error: { code: 'E_BAD_MESSAGE', message: 'A message was not valid JSON.' } });
      }
      void endpoint.handle(raw).then((response) => send(ws, response));
    });
    ws.on('close', unsubscribe);
    ws.on('error', () => ws.terminate());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new HindsightError('E_PORT_IN_USE', `Port ${options.port} on ${options.host} is in use; choose another with --port.`)
          : new HindsightError('E_LISTEN', `Cannot listen on ${options.host}:${options.port}: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    close: async () => {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(ws: WebSocket, message: unknown): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

function securityHeaders(request: IncomingMessage): Record<string, string> {
  const host = request.headers.host ?? 'localhost';
  return {
    'content-security-policy': rendererContentSecurityPolicy(`'self' ws://${host}`),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}

function respond(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  response.end(`${text}\n`);
}
