import { BackendError, isValidObjectName, objectPath, type Backend, type BackendErrorCode, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType } from './backend.js';
import { restLocationName } from './backendNames.js';
import { normalizeFingerprint } from './certificateFingerprint.js';
import { FingerprintMismatch } from './pinnedTls.js';
import { RestClient, type RestResponse, type RestTransport } from './restClient.js';

export interface RestOptions {
  /** The repository's URL, http://host[:port]/path or https://…, without credentials. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM certificate(s) to trust besides the system's: a server with a self-signed certificate. */
  readonly ca?: string | Buffer;
  /** Trust exactly the certificate with this SHA-256 fingerprint (any spelling `normalizeFingerprint` takes), and no CA. */
  readonly fingerprint?: string;
  /** Requests in flight at once, each on its own kept-alive connection (default 8). */
  readonly connections?: number;
  readonly requestTimeoutMs?: number;
}

/** A REST server reached some other way than a URL (rclone over its standard input and output). */
export interface RestOverTransport {
  /** Where the repository lives, as messages name it. */
  readonly location: string;
  readonly transport: RestTransport;
}

/** What a request was for, as messages say it ("Cannot read …", "had a problem trying to delete …"). */
type Action = 'create the repository at' | `list ${ObjectType}/ at` | 'read' | 'write to' | 'delete';

/** Asked for on every request; a server that knows it answers listings with names and sizes. */
const V2 = 'application/vnd.x.restic.rest.v2';

/**
 * A repository behind restic's REST protocol (version 2), as restic's rest-server, `rclone serve
 * restic` and NAS packages serve it: HEAD for stat, GET with a Range for reads, POST to write, DELETE,
 * GET of a folder for a listing. Hindsight's object types are restic's (config, keys, data, index,
 * snapshots, locks), which is all such a server accepts. A write is one POST: atomic where the server
 * makes it so (rest-server writes a temporary file and renames it; rclone writes as its remote does).
 * Retries are the retry wrapper's job.
 */
export class RestBackend implements Backend {
  readonly location: string;
  private readonly client: RestTransport;

  constructor(options: RestOptions | RestOverTransport) {
    if ('transport' in options) {
      this.location = options.location;
      this.client = options.transport;
      return;
    }
    const url = new URL(options.url);
    this.location = restLocationName(url);
    this.client = new RestClient({
      url,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.fingerprint ? { fingerprint: pinnedFingerprint(options.fingerprint) } : {}),
      connections: options.connections ?? 8,
      timeoutMs: options.requestTimeoutMs ?? 60_000,
    });
  }

  async create(): Promise<void> {
    if (await this.exists({ type: 'config', name: 'config' })) {
      throw new BackendError('E_ALREADY_EXISTS', `There is already a Hindsight repository at ${this.location}.`);
    }
    const response = await this.send('POST', '', 'create the repository at', undefined, { query: 'create=true', body: [] });
    if (response.status !== 200) throw this.refusal(response, 'create the repository at');
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    if (type === 'config') {
      const config = await this.stat({ type, name: 'config' }).catch((err: unknown) => {
        if (err instanceof BackendError && err.code === 'E_NOT_FOUND') return undefined;
        throw err;
      });
      if (config) yield config;
      return;
    }
    const response = await this.send('GET', `${type}/`, `list ${type}/ at`);
    // A folder the server has not made yet (nothing of that type was written) is an empty one.
    if (response.status === 404) return;
    if (response.status !== 200) throw this.refusal(response, `list ${type}/ at`);
    if (!String(response.headers['content-type'] ?? '').startsWith(V2)) {
      throw new BackendError('E_IO', `The server at ${this.location} speaks only version 1 of the REST protocol; Hindsight needs version 2 (rest-server 0.9.7 or later, any recent rclone).`);
    }
    let entries: unknown;
    try {
      entries = JSON.parse(response.body.toString('utf8'));
    } catch (err) {
      throw new BackendError('E_IO', `The server at ${this.location} sent a listing of ${type}/ that is not JSON.`, { cause: err, transient: true });
    }
    if (!Array.isArray(entries)) throw new BackendError('E_IO', `The server at ${this.location} sent a listing of ${type}/ that is not a list.`);
    for (const entry of entries as { name?: unknown; size?: unknown }[]) {
      if (typeof entry?.name !== 'string' || typeof entry.size !== 'number' || !isValidObjectName(type, entry.name)) continue;
      yield { name: entry.name, size: entry.size };
    }
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    const response = await this.send('HEAD', pathOf(handle), 'read', handle);
    if (response.status !== 200) throw this.refusal(response, 'read', handle);
    const size = Number(response.headers['content-length']);
    if (!Number.isSafeInteger(size) || size < 0) throw new BackendError('E_IO', `The server at ${this.location} gave no size for ${describe(handle)}.`);
    return { name: handle.name, size };
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    const path = pathOf(handle);
    if (range && (range.offset < 0 || range.length < 0)) throw this.badRange(handle, range);
    if (range && range.length === 0) {
      const { size } = await this.stat(handle);
      if (range.offset > size) throw this.badRange(handle, range, size);
      return Buffer.alloc(0);
    }
    const headers = range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : undefined;
    const response = await this.send('GET', path, 'read', handle, headers ? { headers } : {});
    if (range && response.status === 416) throw this.badRange(handle, range);
    if (response.status === 200 && range) {
      // A server that ignores Range sends the whole object: the range is cut from it.
      if (response.body.length < range.offset + range.length) throw this.badRange(handle, range, response.body.length);
      return response.body.subarray(range.offset, range.offset + range.length);
    }
    if (response.status !== 200 && response.status !== 206) throw this.refusal(response, 'read', handle);
    // A range running past the end comes back short (rclone answers 206 with what there is, or nothing).
    if (range && response.body.length !== range.length) throw this.badRange(handle, range);
    return response.body;
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const path = pathOf(handle);
    const parts = (Array.isArray(data) ? data : [data]) as readonly Uint8Array[];
    const response = await this.send('POST', path, 'write to', handle, { body: parts });
    if (response.status === 200) return;
    // rest-server keeps every object write-once, and an append-only server refuses to replace one: both
    // answer 403. When the bytes there are these (an earlier try whose answer was lost), the write is done.
    if (response.status === 403 && (await this.holds(handle, parts))) return;
    throw this.refusal(response, 'write to', handle);
  }

  async delete(handle: ObjectHandle): Promise<void> {
    const response = await this.send('DELETE', pathOf(handle), 'delete', handle);
    if (response.status === 200 || response.status === 204 || response.status === 404) return;
    throw this.refusal(response, 'delete', handle);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async exists(handle: ObjectHandle): Promise<boolean> {
    try {
      await this.stat(handle);
      return true;
    } catch (err) {
      if (err instanceof BackendError && err.code === 'E_NOT_FOUND') return false;
      throw err;
    }
  }

  /** Whether the object exists and holds exactly `parts`. */
  private async holds(handle: ObjectHandle, parts: readonly Uint8Array[]): Promise<boolean> {
    const stored = await this.read(handle).catch(() => undefined);
    if (!stored) return false;
    let offset = 0;
    for (const part of parts) {
      if (offset + part.byteLength > stored.length || Buffer.compare(stored.subarray(offset, offset + part.byteLength), part) !== 0) return false;
      offset += part.byteLength;
    }
    return offset === stored.length;
  }

  /** One request; a network failure becomes a BackendError, any HTTP status is the caller's to judge. */
  private async send(method: string, path: string, action: Action, handle?: ObjectHandle, request: { headers?: Record<string, string>; body?: readonly Uint8Array[]; query?: string } = {}): Promise<RestResponse> {
    try {
      return await this.client.send(method, path, { ...request, headers: { Accept: V2, ...request.headers } });
    } catch (err) {
      throw this.unreachable(err, action, handle);
    }
  }

  private unreachable(err: unknown, action: Action, handle?: ObjectHandle): BackendError {
    // The transport already said what went wrong (rclone missing or stopped).
    if (err instanceof BackendError) return err;
    const code = (err as { code?: string } | undefined)?.code ?? '';
    const detail = (err as Error | undefined)?.message ?? String(err);
    if (code === 'ENOTFOUND') return new BackendError('E_UNREACHABLE', `There is no host "${new URL(this.location.slice('rest:'.length)).hostname}" (the name does not resolve). Check the repository location.`, { cause: err });
    if (err instanceof FingerprintMismatch) {
      return new BackendError('E_HOST_KEY', `The server at ${this.location} is not the one pinned (with --rest-fingerprint, or confirmed in the app): its certificate has the fingerprint SHA256:${err.seen}. Nothing was sent. If the server's certificate was replaced on purpose, compare the new fingerprint with the one the server prints at start, and pin that.`, { cause: err });
    }
    if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
      return new BackendError('E_HOST_KEY', `The server at ${this.location} has a TLS certificate Hindsight cannot trust (${code}). If it is your own server with a self-signed certificate, give that certificate (or its CA's) with --rest-cacert FILE.`, { cause: err });
    }
    // OpenSSL's "wrong version number": the server answered TLS with plain HTTP.
    if (code === 'EPROTO' && this.location.startsWith('rest:https:')) {
      return new BackendError('E_UNREACHABLE', `The server at ${this.location} does not speak HTTPS there (${code}): if it serves plain HTTP, write the location with rest:http://.`, { cause: err });
    }
    // Node's HTTP parser could not read the answer: most likely TLS, or HTTP/1.0's "send HTTPS" reply to a HEAD.
    if (code.startsWith('HPE_') && this.location.startsWith('rest:http:')) {
      return new BackendError('E_UNREACHABLE', `The server at ${this.location} did not answer in plain HTTP (${code}): if it serves HTTPS, write the location with rest:https://.`, { cause: err });
    }
    // Refused, reset, timed out: the server may be back in a moment, which is the retry wrapper's to find out.
    return new BackendError('E_UNREACHABLE', `Cannot reach ${this.location}${handle ? ` to ${action} ${describe(handle)}` : ''} (${code || detail}).`, { cause: err, transient: true });
  }

  /** An HTTP status that is not the success asked for, as an error a person can act on. */
  private refusal(response: RestResponse, action: Action, handle?: ObjectHandle): BackendError {
    const what = handle ? `${describe(handle)} at ${this.location}` : this.location;
    const status = `HTTP ${response.status}`;
    const said = response.body.toString('utf8', 0, Math.min(response.body.length, 200)).trim();
    const fail = (code: BackendErrorCode, message: string, transient = false) => new BackendError(code, message, { transient });
    switch (response.status) {
      case 401:
        return fail(
          'E_AUTH',
          this.client.hasCredentials
            ? `${this.location} refused the user name and password (${status}): check HINDSIGHT_REST_USERNAME and HINDSIGHT_REST_PASSWORD (or the ones in the location).`
            : `${this.location} asks for a user name and password (${status}): set HINDSIGHT_REST_USERNAME and HINDSIGHT_REST_PASSWORD.`,
        );
      case 403:
        if (action === 'delete') {
          return fail('E_PERMISSION', `The server at ${this.location} refused to delete ${handle ? describe(handle) : 'an object'} (${status}): it is append-only (or this user may not delete). Backups still work; run forget and prune where deletes are allowed, such as on the server itself.`);
        }
        if (action === 'write to') {
          return fail('E_PERMISSION', `The server at ${this.location} refused to write ${handle ? describe(handle) : 'an object'} (${status}): it does not replace an object that exists (rest-server never does, an append-only server neither), or this user may not write.`);
        }
        return fail('E_PERMISSION', `Cannot ${action} ${what}: access denied (${status}). Check that this user may use this repository's path.`);
      case 404:
        return fail('E_NOT_FOUND', `${what} does not exist.`);
      case 413:
        // Too large for the server's upload limit, or over the user's quota: the server's own line says which.
        return fail('E_IO', `The server at ${this.location} refused ${handle ? describe(handle) : 'an object'} (${status}): ${said || 'too large; raise its upload size limit'}.`);
      case 507:
        return fail('E_NO_SPACE', `The server at ${this.location} is out of space or over its quota (${status}).`);
    }
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      return fail('E_IO', `The server at ${this.location} had a problem trying to ${action} ${what} (${status}${said ? `: ${said}` : ''}).`, true);
    }
    return fail('E_IO', `Cannot ${action} ${what}: the server answered ${status}${said ? ` (${said})` : ''}.`);
  }

  private badRange(handle: ObjectHandle, range: ByteRange, size?: number): BackendError {
    return new BackendError(
      'E_INVALID_RANGE',
      `Cannot read bytes ${range.offset}–${range.offset + range.length} of ${describe(handle)} at ${this.location}: the object is shorter${size === undefined ? '' : ` (${size} bytes)`}; it may be truncated.`,
    );
  }
}

/**
 * The object's path below the repository's URL. The protocol names data objects data/<id>, with no
 * folder per id prefix: the server adds that itself (rest-server and rclone keep data/ab/ab12…, as
 * Hindsight's folders do, so a repository served from a folder opens as that folder too).
 */
function pathOf(handle: ObjectHandle): string {
  const path = objectPath(handle); // checks the name
  return handle.type === 'data' ? `data/${handle.name}` : path;
}

function pinnedFingerprint(text: string): string {
  const fingerprint = normalizeFingerprint(text);
  if (!fingerprint) throw new BackendError('E_HOST_KEY', `"${text}" is not a SHA-256 certificate fingerprint; give it as the server prints it (SHA256:AB:CD:…, 32 pairs of hex digits).`);
  return fingerprint;
}

function describe(handle: ObjectHandle): string {
  return handle.type === 'config' ? 'config' : `${handle.type}/${handle.name}`;
}
