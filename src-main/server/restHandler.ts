import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BackendError, type Backend, type ObjectHandle } from '../engine/backend/backend.js';
import { parseObjectRoute, type ObjectRoute } from './objectRoute.js';
import type { RepositoryStorage } from './repositoryStorage.js';
import type { UsageLedger } from './usageLedger.js';
import { formatBytes } from '../../src-shared/units.js';
import { parseRange } from './byteRange.js';
import { gatheredWriter } from './gatheredWriter.js';
import { drained } from '../engine/writableDrained.js';

/** The parts of a request that node:http's and node:http2's (compatibility API) requests share. */
export interface ServerRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** 1 or 2: HTTP/1.1 closes a connection with a header, HTTP/2 has none (its streams end alone). */
  readonly httpVersionMajor: number;
  readonly complete: boolean;
  readonly socket: { readonly remoteAddress?: string | undefined; destroy(): void };
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeAllListeners(event: 'data' | 'end' | 'close' | 'error'): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** The parts of a response that node:http's and node:http2's (compatibility API) responses share. */
export interface ServerResponse {
  readonly statusCode: number;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  destroy(): void;
  writeHead(status: number, headers?: Record<string, string | number>): unknown;
  /** Sends "100 Continue": the client that sent `Expect: 100-continue` may send its body now. */
  writeContinue(): unknown;
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array | string): unknown;
  once(event: 'drain' | 'close' | 'finish', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

export interface RestHandlerOptions {
  readonly storage: RepositoryStorage;
  /** Kept up to date with every object stored or deleted; asked for quotas. */
  readonly usage: UsageLedger;
  /** The largest object accepted in one upload, in bytes. */
  readonly maxUploadBytes: number;
  /** Hash uploads of content-addressed objects against their names (rest-server's default). */
  readonly verifyUploads: boolean;
  /** One line per refused or failed request; never given a secret. */
  readonly log: (line: string) => void;
}

/** What the client may do: the whole protocol, or add and read only (locks excepted), on which repositories. */
export interface Permissions {
  readonly appendOnly: boolean;
  /** Says which repositories `mayUse` allows, for the 403's message. */
  readonly repositories: string;
  mayUse(repository: readonly string[]): boolean;
  /** The most the repositories below `prefix` may hold together, checked before an upload is taken. */
  readonly quota?: { readonly bytes: number; readonly prefix: readonly string[] } | undefined;
}

const V1 = 'application/vnd.x.restic.rest.v1';
const V2 = 'application/vnd.x.restic.rest.v2';
/** Reads and downloads go out in pieces of this size, so a 1 GiB pack never sits in memory whole. */
const READ_PIECE = 4 * 1024 * 1024;
/** Uploads reach storage in pieces of about this size rather than one write per network packet. */
const WRITE_PIECE = 1024 * 1024;
/** The first bytes of every Hindsight sealed object, config included; restic's config is random-looking ciphertext. */
const HINDSIGHT_MAGIC = Buffer.from('HSO1', 'ascii');

/** An answer other than success, with a line for the client (and the log). */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** More for the log than the client may see (the server's own paths, a storage error's detail). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/**
 * The restic REST protocol (v2, and v1 listings for old clients) over a `RepositoryStorage`:
 *
 *   POST   /REPO/?create=true       makes the repository's folders
 *   GET    /REPO/TYPE/              lists a type: v2 [{name, size}] when asked for, else v1 [name]
 *   HEAD   /REPO/TYPE/NAME          size (Content-Length)
 *   GET    /REPO/TYPE/NAME          the object, or a Range of it (206)
 *   POST   /REPO/TYPE/NAME          stores the body: streamed to a temporary file, checked, made durable, renamed
 *   DELETE /REPO/TYPE/NAME          removes it (idempotent)
 *
 * with TYPE one of keys, data, index, snapshots, locks, and /REPO/config on its own.
 */
export class RestHandler {
  /** Repositories known to be Hindsight's, whose pack names are random rather than content hashes. */
  private readonly hindsightRepositories = new Set<string>();

  constructor(private readonly options: RestHandlerOptions) {}

  /** Answers one request; never rejects (a failure becomes a 4xx or 5xx answer and a log line). */
  async handle(req: ServerRequest, res: ServerResponse, permissions: Permissions, who: string): Promise<void> {
    const method = req.method ?? '';
    const url = new URL(req.url ?? '/', 'http://server');
    try {
      const route = parseObjectRoute(url.pathname);
      if (!route) throw new Refusal(400, 'not a repository, type folder or object name this server keeps');
      await this.dispatch(method, url, route, req, res, permissions);
    } catch (err) {
      const refusal = err instanceof Refusal ? err : this.refusalFor(err);
      // A missing object is an ordinary answer (a client checking before it writes), not worth a line.
      if (refusal.status !== 404) this.options.log(`${who} ${method} ${url.pathname}: ${refusal.status} ${refusal.detail ?? refusal.message}`);
      if (res.headersSent) {
        // Mid-download: the client sees a short body, never a wrong one.
        if (!res.destroyed) res.destroy();
        return;
      }
      sendRefusal(req, res, refusal.status, refusal.message);
    }
  }

  private async dispatch(method: string, url: URL, route: ObjectRoute, req: ServerRequest, res: ServerResponse, permissions: Permissions): Promise<void> {
    if (!permissions.mayUse(route.repository)) throw new Refusal(403, `this user may use only ${permissions.repositories}`);
    const backend = this.options.storage.backendFor(route.repository);
    if (route.kind === 'repository') {
      if (method !== 'POST' || url.searchParams.get('create') !== 'true') throw new Refusal(405, 'a repository path takes only POST ?create=true');
      await this.create(backend);
      this.options.usage.created();
      return answer(res, 200);
    }
    if (route.kind === 'folder') {
      if (method !== 'GET') throw new Refusal(405, 'a type folder takes only GET (a listing)');
      return await this.list(backend, route.type, req, res);
    }
    const { handle } = route;
    switch (method) {
      case 'HEAD': {
        const { size } = await backend.stat(handle);
        res.writeHead(200, { 'Content-Length': size, 'Content-Type': 'application/octet-stream' });
        res.end();
        return;
      }
      case 'GET':
        return await this.download(backend, handle, req, res);
      case 'POST':
        await this.upload(backend, route.repository, handle, req, res, permissions);
        return answer(res, 200);
      case 'DELETE':
        if (permissions.appendOnly && handle.type !== 'locks') throw new Refusal(403, 'append-only: objects are never deleted (locks excepted)');
        return await this.remove(backend, route.repository, handle, res);
      default:
        throw new Refusal(405, `${method} is not part of the REST protocol`);
    }
  }

  private async create(backend: Backend): Promise<void> {
    try {
      await backend.create();
    } catch (err) {
      // Creating what is there is a no-op, as with rest-server: the client checked for a config itself.
      if (!(err instanceof BackendError && err.code === 'E_ALREADY_EXISTS')) throw err;
    }
  }

  private async list(backend: Backend, type: Exclude<ObjectHandle['type'], 'config'>, req: ServerRequest, res: ServerResponse): Promise<void> {
    const v2 = String(req.headers.accept ?? '').includes(V2);
    const entries: { name: string; size: number }[] = [];
    for await (const entry of backend.list(type)) entries.push(entry);
    const body = Buffer.from(JSON.stringify(v2 ? entries.map(({ name, size }) => ({ name, size })) : entries.map(({ name }) => name)));
    res.writeHead(200, { 'Content-Type': v2 ? V2 : V1, 'Content-Length': body.length });
    res.end(body);
  }

  private async download(backend: Backend, handle: ObjectHandle, req: ServerRequest, res: ServerResponse): Promise<void> {
    const { size } = await backend.stat(handle);
    const header = req.headers.range;
    let start = 0;
    let end = size;
    if (header !== undefined) {
      const range = parseRange(header, size);
      if (range === 'unsatisfiable') {
        res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      if (range === undefined) throw new Refusal(400, `the Range header "${header.slice(0, 60)}" is not one byte range`);
      ({ start, end } = range);
    }
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream', 'Content-Length': end - start, 'Accept-Ranges': 'bytes' };
    if (header !== undefined) headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
    // Read the first piece before answering, so a read that fails at once is still a clean error status.
    let offset = start;
    let piece = await backend.read(handle, { offset, length: Math.min(READ_PIECE, end - offset) });
    res.writeHead(header !== undefined ? 206 : 200, headers);
    for (;;) {
      offset += piece.length;
      if (!res.write(piece) && !(await drained(res))) return;
      if (offset >= end) break;
      piece = await backend.read(handle, { offset, length: Math.min(READ_PIECE, end - offset) });
    }
    res.end();
  }

  private async upload(backend: Backend, repository: readonly string[], handle: ObjectHandle, req: ServerRequest, res: ServerResponse, permissions: Permissions): Promise<void> {
    const { maxUploadBytes } = this.options;
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0)) throw new Refusal(400, 'the Content-Length is not a size');
    if (declared !== undefined && declared > maxUploadBytes) throw tooLarge(maxUploadBytes);
    const previous = await sizeOf(backend, handle);
    if (permissions.appendOnly && handle.type !== 'locks' && previous !== undefined) {
      throw new Refusal(403, 'append-only: an object that exists is never replaced');
    }
    const { quota } = permissions;
    if (quota) await this.options.usage.count(quota.prefix);
    // From here to the reservation nothing waits: another upload cannot slip in between.
    const used = quota ? this.options.usage.held(quota.prefix).bytes : 0;
    const overQuota = (size: number) => new Refusal(413, `over quota: this user's repositories hold ${formatBytes(used)} of the ${formatBytes(quota?.bytes ?? 0)} allowed, and ${handle.type}/${handle.name.slice(0, 12)}… (${formatBytes(size)}${declared === undefined ? ' so far' : ''}) does not fit; forget and prune old snapshots, or ask for a larger quota`);
    if (quota && declared !== undefined && used + declared > quota.bytes) throw overQuota(declared);
    const release = quota ? this.options.usage.reserve(quota.prefix, declared ?? 0) : () => undefined;
    try {
      await this.receive(backend, repository, handle, req, res, { declared, previous, quota, used, overQuota });
    } finally {
      release();
    }
  }

  private async receive(
    backend: Backend,
    repository: readonly string[],
    handle: ObjectHandle,
    req: ServerRequest,
    res: ServerResponse,
    { declared, previous, quota, used, overQuota }: { declared: number | undefined; previous: number | undefined; quota: Permissions['quota']; used: number; overQuota: (size: number) => Refusal },
  ): Promise<void> {
    const { maxUploadBytes } = this.options;
    const hash = (await this.isContentAddressed(backend, repository, handle)) ? createHash('sha256') : undefined;
    const sink = backend.createWriter ? backend.createWriter(handle) : gatheredWriter(backend, handle);
    try {
      let received = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      await receiveBody(req, res, async (chunk) => {
        received += chunk.length;
        if (received > maxUploadBytes) throw tooLarge(maxUploadBytes);
        if (quota && used + received > quota.bytes) throw overQuota(received);
        hash?.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= WRITE_PIECE) {
          await sink.append(Buffer.concat(pending, pendingBytes));
          pending = [];
          pendingBytes = 0;
        }
      });
      if (declared !== undefined && received !== declared) throw new Refusal(400, `the body has ${received} bytes, not the ${declared} its Content-Length says`);
      if (pendingBytes > 0) await sink.append(Buffer.concat(pending, pendingBytes));
      if (hash && hash.digest('hex') !== handle.name) throw new Refusal(400, `the content does not match the name ${handle.type}/${handle.name} (its SHA-256 differs): damaged in transit, or a client bug`);
      await sink.commit();
      this.options.usage.changed(repository, received - (previous ?? 0), previous === undefined ? 1 : 0);
    } finally {
      await sink.abort();
    }
  }

  private async remove(backend: Backend, repository: readonly string[], handle: ObjectHandle, res: ServerResponse): Promise<void> {
    const previous = await sizeOf(backend, handle);
    await backend.delete(handle);
    if (previous !== undefined) this.options.usage.changed(repository, -previous, -1);
    answer(res, 200);
  }

  /**
   * Whether the object's name is the SHA-256 of its bytes: keys, index, snapshots and locks always are
   * (restic's and Hindsight's alike); packs only in restic's repositories, as Hindsight names its packs
   * at random (the pack key is derived from the name, which must never repeat).
   */
  private async isContentAddressed(backend: Backend, repository: readonly string[], handle: ObjectHandle): Promise<boolean> {
    if (!this.options.verifyUploads || handle.type === 'config') return false;
    if (handle.type !== 'data') return true;
    const key = repository.join('/');
    if (this.hindsightRepositories.has(key)) return false;
    const magic = await backend.read({ type: 'config', name: 'config' }, { offset: 0, length: HINDSIGHT_MAGIC.length }).catch(() => undefined);
    if (magic?.equals(HINDSIGHT_MAGIC)) {
      this.hindsightRepositories.add(key);
      return false;
    }
    return true;
  }

  private refusalFor(err: unknown): Refusal {
    if (!(err instanceof BackendError)) return new Refusal(500, 'internal error; the server\'s log says more', `internal error: ${(err as Error | undefined)?.stack ?? String(err)}`);
    switch (err.code) {
      case 'E_NOT_FOUND':
      case 'E_TARGET_MISSING':
        return new Refusal(404, 'no such repository or object');
      case 'E_INVALID_RANGE':
        return new Refusal(416, 'the range is past the end of the object');
      case 'E_INVALID_NAME':
        return new Refusal(400, err.message);
      case 'E_NO_SPACE':
        return new Refusal(507, 'the server is out of space', `out of space: ${err.message}`);
      default:
        // The server's own storage failed: the detail is for its log, the client hears a retryable 500.
        return new Refusal(500, 'a storage error on the server; its log says more', `storage error: ${err.message}`);
    }
  }
}

/**
 * An error answer with a line of text. The rest of a refused upload is read and dropped; a client
 * still holding its body back (it sent `Expect: 100-continue` and was never asked for the body)
 * sends none, so its HTTP/1.1 connection closes after the answer instead of waiting for a body that
 * may never come (RFC 9110, 10.1.1). An HTTP/2 stream just ends.
 */
export function sendRefusal(req: ServerRequest, res: ServerResponse, status: number, message: string, headers: Record<string, string | number> = {}): void {
  const body = Buffer.from(`${message}\n`);
  const unread = req.method === 'POST' && !req.complete;
  const heldBack = unread && holdsBodyBack(req);
  const close: Record<string, string> = heldBack && req.httpVersionMajor === 1 ? { Connection: 'close' } : {};
  res.writeHead(status, { ...headers, ...close, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
  if (unread && !heldBack) discardBody(req);
}

/** Uploads whose client was sent "100 Continue": their body is on its way. */
const invited = new WeakSet<ServerRequest>();

/** Whether the client sent `Expect: 100-continue` and has not been asked for its body yet. */
function holdsBodyBack(req: ServerRequest): boolean {
  return String(req.headers.expect ?? '').toLowerCase() === '100-continue' && !invited.has(req);
}

function answer(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

function tooLarge(max: number): Refusal {
  return new Refusal(413, `the object is larger than this server accepts (${max} bytes; see --max-upload)`);
}

/** The object's size, or undefined when there is none. */
async function sizeOf(backend: Backend, handle: ObjectHandle): Promise<number | undefined> {
  try {
    return (await backend.stat(handle)).size;
  } catch (err) {
    if (err instanceof BackendError && (err.code === 'E_NOT_FOUND' || err.code === 'E_TARGET_MISSING')) return undefined;
    throw err;
  }
}

/**
 * Hands the request's body to `accept` chunk by chunk, the next only once the last was taken (the
 * client is slowed to the disk's pace, nothing piles up in memory). Rejects with what `accept` threw,
 * leaving the rest unread, or when the client goes away mid-body. A client waiting with `Expect:
 * 100-continue` is asked for the body only here, after every check that needs no body: a refusal
 * before it (413 over quota, 403 append-only) reaches the client before it sends a byte, and no
 * body is cut off mid-send.
 */
function receiveBody(req: ServerRequest, res: ServerResponse, accept: (chunk: Buffer) => Promise<void>): Promise<void> {
  if (holdsBodyBack(req)) {
    invited.add(req);
    res.writeContinue();
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      req.removeAllListeners('data');
      if (err) reject(err);
      else resolve();
    };
    req.on('data', (chunk) => {
      req.pause();
      accept(chunk).then(
        () => {
          if (!settled) req.resume();
        },
        (err: unknown) => settle(err),
      );
    });
    req.on('end', () => settle());
    req.on('error', (err) => settle(new Refusal(400, `the upload broke off (${err.message})`)));
    req.on('close', () => {
      if (!req.complete) settle(new Refusal(400, 'the upload ended before its body was complete'));
    });
  });
}

/** The most of a refused upload read and thrown away so the answer reaches the client and the connection stays usable. */
const DISCARD_LIMIT = 64 * 1024 * 1024;

/**
 * Reads and drops the rest of a refused upload's body. Closing with the body unread would make the
 * kernel reset the connection, and the client could lose the answer (413, 403) with it; a body that
 * goes on past DISCARD_LIMIT is cut off that way all the same.
 */
function discardBody(req: ServerRequest): void {
  let dropped = 0;
  req.removeAllListeners('data');
  req.on('data', (chunk) => {
    dropped += chunk.length;
    if (dropped > DISCARD_LIMIT) req.socket.destroy();
  });
  req.resume();
}
