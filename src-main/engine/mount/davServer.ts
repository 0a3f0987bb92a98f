import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HindsightError } from '../../../src-shared/errors.js';
import type { Repository } from '../repository/repository.js';
import { RepositoryError } from '../repository/repositoryError.js';
import { displayName } from '../snapshot/tree.js';
import { ChunkCache, DEFAULT_CACHE_BYTES } from './chunkCache.js';
import { BadPath, pathSegments, percentEncoded } from './davPath.js';
import { entityTag, multistatus, type DavResource } from './davXml.js';
import { chunkMapOf, readRange } from './fileReads.js';
import { SnapshotView, type Resolved } from './snapshotView.js';
import { drained } from '../writableDrained.js';

export const DAV_USER = 'hindsight';
const READ_METHODS = 'OPTIONS, GET, HEAD, PROPFIND';
const WRITE_METHODS: ReadonlySet<string> = new Set(['PUT', 'POST', 'PATCH', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPPATCH', 'LOCK', 'UNLOCK']);
/** Connections served at once: each holds at most the chunk it sends and the one read ahead. */
const MAX_CONNECTIONS = 32;
/** A PROPFIND body is a short list of property names; anything longer is not one. */
const MAX_PROPFIND_BODY = 64 * 1024;

export interface DavServerOptions {
  readonly repository: Repository;
  /** Default 127.0.0.1; port default 0 (a free one). */
  readonly host?: string;
  readonly port?: number;
  readonly password: string;
  /** Bytes of verified chunks kept for readers (default 64 MiB). */
  readonly cacheBytes?: number;
  /** Closes itself after this long without a request (default: never). */
  readonly idleMs?: number;
  /** Where refused and failed reads are reported, one line each (never a credential). */
  readonly log?: (line: string) => void;
}

export interface DavServer {
  /** http://HOST:PORT/ */
  readonly url: string;
  readonly port: number;
  readonly username: string;
  /** Resolves once the server stopped: closed, or idle for `idleMs`. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
  /** The address of a snapshot's folder (by id or unique id prefix), under `url`; E_SNAPSHOT_NOT_FOUND when there is none. */
  snapshotUrl(id: string): Promise<string>;
}

/**
 * A read-only WebDAV server (RFC 4918, class 1) of a repository's snapshots, as `SnapshotView` lays them
 * out: OPTIONS, PROPFIND (depth 0 and 1), GET and HEAD with byte ranges. Written here rather than taken
 * from a library: the maintained Node WebDAV servers are built around writable file systems (locks,
 * PUT, property stores) with a backing-store interface of whole streams, and a read-only server of four
 * methods is this file; what it must get right (ranges that load only the chunks asked for, every chunk
 * authenticated, names as raw bytes, every request authenticated) is Hindsight's own.
 *
 * Every request needs the user `hindsight` and the password, by HTTP basic authentication; anything
 * that would write (PUT, DELETE, MKCOL, COPY, MOVE, PROPPATCH, LOCK…) is 403, other methods 405. The caller holds the
 * repository's shared lock for as long as the server runs, so prune cannot remove what it reads.
 */
export async function startDavServer(options: DavServerOptions): Promise<DavServer> {
  const { repository, password } = options;
  const log = options.log ?? (() => undefined);
  const view = new SnapshotView(repository);
  const cache = new ChunkCache(repository, options.cacheBytes ?? DEFAULT_CACHE_BYTES);
  const expected = createHash('sha256').update(`${DAV_USER}:${password}`).digest();
  let lastRequest = Date.now();
  let active = 0;

  const server = createServer({ keepAliveTimeout: 30_000 }, (request, response) => {
    lastRequest = Date.now();
    active += 1;
    response.once('close', () => {
      active -= 1;
      lastRequest = Date.now();
    });
    handle(request, response).catch((err: unknown) => {
      log(`error: ${request.method} ${request.url}: ${(err as Error).message}`);
      if (!response.headersSent) send(response, 500, 'Internal error.\n');
      else response.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!authorized(request.headers.authorization, expected)) {
      send(response, 401, 'Log in with the user and password "hindsight mount" printed.\n', { 'www-authenticate': 'Basic realm="Hindsight", charset="UTF-8"' });
      return;
    }
    const method = request.method ?? '';
    if (!READ_METHODS.split(', ').includes(method)) {
      // 403 for what would write, as RFC 4918 has it for MKCOL where nothing may be made (rclone takes a 405 there to mean "exists
      // already"), 405 for methods WebDAV does not have. The body is not read: the connection closes after the refusal.
      send(response, WRITE_METHODS.has(method) ? 403 : 405, 'This is a read-only view of your backups: nothing can be changed here.\n', { allow: READ_METHODS, connection: 'close' });
      return;
    }
    let segments: Buffer[];
    try {
      segments = pathSegments(request.url ?? '/');
    } catch (err) {
      if (!(err instanceof BadPath)) throw err;
      log(`refused ${method} ${(request.url ?? '').slice(0, 200)}: ${err.message}`);
      send(response, err.status, `${err.message}\n`);
      return;
    }
    if (method === 'OPTIONS') {
      send(response, 200, '', { dav: '1', allow: READ_METHODS, 'ms-author-via': 'DAV' });
      return;
    }
    const shown = `/${segments.map((s) => displayName(s)).join('/')}`;
    let found: Resolved | undefined;
    try {
      found = await view.resolve(segments);
    } catch (err) {
      log(`error: ${shown}: ${(err as Error).message}`);
      send(response, 500, 'This folder could not be read from the repository; the mount\'s log says why.\n');
      return;
    }
    if (!found) {
      send(response, 404, 'Not found.\n');
      return;
    }
    const href = `/${segments.map(percentEncoded).join('/')}`;
    if (method === 'PROPFIND') await propfind(request, response, found, href);
    else if (found.kind === 'dir') await folderPage(response, found, href, method === 'HEAD');
    else await sendFile(request, response, found, shown, method === 'HEAD');
  }

  async function propfind(request: IncomingMessage, response: ServerResponse, found: Resolved, href: string): Promise<void> {
    if (!(await drainBody(request, MAX_PROPFIND_BODY))) {
      send(response, 413, 'PROPFIND body too large.\n', { connection: 'close' });
      return;
    }
    // Depth infinity is refused (RFC 4918 9.1 allows it): a whole repository in one answer. No Depth header counts as 1, as most servers do.
    const depth = request.headers.depth ?? '1';
    if (depth !== '0' && depth !== '1') {
      send(response, 403, '<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n', { 'content-type': 'application/xml; charset=utf-8' });
      return;
    }
    const base = found.kind === 'dir' ? `${href.replace(/\/$/, '')}/` : href;
    const resources: DavResource[] = [{ href: base, entry: found.self }];
    if (depth === '1' && found.kind === 'dir') {
      for (const entry of await found.list()) resources.push({ href: `${base}${percentEncoded(entry.name)}${entry.kind === 'dir' ? '/' : ''}`, entry });
    }
    send(response, 207, multistatus(resources), { 'content-type': 'application/xml; charset=utf-8' });
  }

  async function sendFile(request: IncomingMessage, response: ServerResponse, found: Extract<Resolved, { kind: 'file' }>, shown: string, headOnly: boolean): Promise<void> {
    const size = found.node.size;
    const headers: Record<string, string> = {
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'last-modified': new Date(found.self.mtimeMs).toUTCString(),
      etag: entityTag(found.self) ?? '""',
    };
    const range = byteRange(request.headers.range, size);
    if (range === 'unsatisfiable') {
      send(response, 416, '', { 'content-range': `bytes */${size}` });
      return;
    }
    const [start, end] = range ?? [0, size];
    const status = range ? 206 : 200;
    if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
    headers['content-length'] = String(end - start);
    if (headOnly) {
      response.writeHead(status, headers).end();
      return;
    }
    const parts = readRange(cache, chunkMapOf(repository, found.node), start, end);
    let first: IteratorResult<Buffer>;
    try {
      // The first chunk before the status line: a damaged one is then a clean 500, not a cut-off 200.
      first = await parts.next();
    } catch (err) {
      log(`error: reading ${shown}: ${(err as Error).message}`);
      send(response, 500, `This file cannot be read: ${(err as Error).message}\n`);
      return;
    }
    response.writeHead(status, headers);
    try {
      for (let part = first; !part.done; part = await parts.next()) {
        if (response.destroyed) return;
        if (!response.write(part.value)) await drained(response);
      }
    } catch (err) {
      // The status line is sent: cutting the connection is how the client learns the file is incomplete (an I/O error, never wrong bytes).
      log(`error: reading ${shown}: ${(err as Error).message}`);
      response.destroy();
      return;
    } finally {
      await parts.return(undefined);
    }
    response.end();
  }

  async function folderPage(response: ServerResponse, found: Extract<Resolved, { kind: 'dir' }>, href: string, headOnly: boolean): Promise<void> {
    const base = `${href.replace(/\/$/, '')}/`;
    const links = (await found.list()).map((e) => `<li><a href="${base}${percentEncoded(e.name)}${e.kind === 'dir' ? '/' : ''}">${htmlText(displayName(e.name))}${e.kind === 'dir' ? '/' : ''}</a></li>`);
    const body = `<!doctype html><meta charset="utf-8"><title>Hindsight</title><ul>${links.join('')}</ul>\n`;
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    response.end(headOnly ? undefined : body);
  }

  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new HindsightError('E_LISTEN', err.code === 'EADDRINUSE' ? `Port ${options.port} is in use by another program; choose another with --listen.` : `Cannot listen on ${options.host}:${options.port}: ${err.message}`)),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  let stopping: Promise<void> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const close = () => {
    stopping ??= new Promise<void>((resolve) => {
      if (idleTimer) clearInterval(idleTimer);
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return stopping;
  };
  const closed = new Promise<void>((resolve) => server.once('close', resolve));
  const idleMs = options.idleMs;
  if (idleMs !== undefined) {
    idleTimer = setInterval(() => {
      if (active === 0 && Date.now() - lastRequest >= idleMs) void close();
    }, Math.min(30_000, Math.max(50, idleMs / 4)));
    idleTimer.unref();
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  const snapshotUrl = async (id: string) => {
    const name = await view.snapshotFolder(id);
    if (!name) throw new RepositoryError('E_SNAPSHOT_NOT_FOUND', `No snapshot matches "${id}".`);
    return `${url}${percentEncoded(name)}/`;
  };
  return { url, port, username: DAV_USER, closed, close, snapshotUrl };
}

function authorized(header: string | undefined, expected: Buffer): boolean {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = createHash('sha256').update(Buffer.from(match[1] as string, 'base64')).digest();
  return timingSafeEqual(given, expected);
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range as [start, end); several ranges or another unit: the whole file (RFC 9110 lets a server ignore Range). */
function byteRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size];
  }
  const start = Number(match[1]);
  const last = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || last < start) return 'unsatisfiable';
  return [start, last + 1];
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
  response.end(body);
}

/** Reads and drops a request body; false when it is longer than `limit`. */
async function drainBody(request: IncomingMessage, limit: number): Promise<boolean> {
  let length = 0;
  for await (const chunk of request) {
    length += (chunk as Buffer).length;
    if (length > limit) return false;
  }
  return true;
}

function htmlText(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
