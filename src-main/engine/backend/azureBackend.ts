import { randomBytes } from 'node:crypto';
import { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential, newPipeline, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { HindsightError } from '../../../src-shared/errors.js';
import { mapConcurrent } from '../concurrency.js';
import { azureLocationName, s3Prefix } from './backendNames.js';
import { BackendError, describeObject, isValidObjectName, objectPath, rangeError, type Backend, type BackendErrorCode, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType } from './backend.js';
import type { AzureCredentials } from './azureCredentials.js';
import { gather, sliceParts } from './objectParts.js';

export interface AzureOptions {
  readonly container: string;
  /** Blob name prefix of the repository inside the container ("" for the container's top). */
  readonly prefix?: string;
  /** The account the location names (azure://ACCOUNT/…): a connection string for another account is refused. */
  readonly account?: string;
  readonly credentials: AzureCredentials;
  /** The key or SAS token was given for this target (kept by the agent), not taken from the environment: messages say which to check. */
  readonly keptSecret?: boolean;
  /** Objects larger than this are staged in blocks of this size, then committed as one blob. */
  readonly blockSize?: number;
  /** Blocks of one object in flight at once. */
  readonly blockConcurrency?: number;
  /** Blobs asked for per listing page (the service gives at most 5000). */
  readonly listPageSize?: number;
  /** A request gives up after this long without an answer (an upload: plus the time its bytes take at 64 KiB/s); a download, after this long without a byte. */
  readonly requestTimeoutMs?: number;
}

const MiB = 1024 * 1024;
/** The slowest transfer still waited for, in bytes per millisecond (64 KiB/s): a request's deadline grows with its size. */
const SLOWEST_BYTES_PER_MS = 64;

/** Where the SDK reports the service's error: the RestError's code, else the parsed details or the x-ms-error-code header. */
interface AzureError {
  readonly name?: string;
  readonly code?: string;
  readonly statusCode?: number;
  readonly message?: string;
  readonly details?: { readonly errorCode?: string };
}

/**
 * A repository in an Azure Blob Storage container, as block blobs. An object up to the block size is
 * one Put Blob; a larger one is staged in blocks (a few in flight) and appears only when the block
 * list is committed, so a reader sees all of it or nothing. Blocks of a write that failed are never
 * part of a blob; the service drops them after a week, or the next write of that name does. Reads are
 * ranged GETs; listings page through any number of blobs. The SDK's own retries are off: the retry
 * wrapper does that for every backend alike.
 */
export class AzureBackend implements Backend {
  readonly location: string;
  private readonly container: ContainerClient;
  private readonly account: string;
  private readonly prefix: string;
  private readonly blockSize: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: AzureOptions) {
    this.prefix = s3Prefix(options.prefix);
    this.blockSize = options.blockSize ?? 8 * MiB;
    this.timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.location = azureLocationName({ account: options.account, container: options.container, prefix: options.prefix });
    const service = serviceClient(options.credentials);
    this.account = service.accountName;
    if (options.account && service.accountName !== options.account) {
      throw new HindsightError('E_USAGE', `AZURE_STORAGE_CONNECTION_STRING is for the account "${service.accountName}", but the location names "${options.account}": write azure:${options.container}/… to use the connection string's account, or unset it.`);
    }
    this.container = service.getContainerClient(options.container);
  }

  async create(): Promise<void> {
    const config = this.container.getBlobClient(this.keyOf({ type: 'config', name: 'config' }));
    const found = await config.getProperties({ abortSignal: this.deadline(0) }).then(
      () => 'config' as const,
      (err: unknown) => {
        const code = errorCodeOf(err);
        if (code === 'BlobNotFound' || code === 'ContainerNotFound') return code;
        throw this.translate(err, 'open');
      },
    );
    if (found === 'config') throw new BackendError('E_ALREADY_EXISTS', `There is already a Hindsight repository at ${this.location}.`);
    // Only a missing container is created: a SAS token for one container may use it but never make one.
    if (found === 'BlobNotFound') return;
    try {
      await this.container.create({ abortSignal: this.deadline(0) });
    } catch (err) {
      if (errorCodeOf(err) !== 'ContainerAlreadyExists') throw this.translate(err, 'create the container of');
    }
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    const folder = type === 'config' ? this.keyOf({ type, name: 'config' }) : `${this.prefix}${type}/`;
    // Each page has its own deadline: a listing of many pages may take long, a page never should.
    const deadline = new AbortController();
    const pages = this.container.listBlobsFlat({ prefix: folder, abortSignal: deadline.signal }).byPage({ maxPageSize: this.options.listPageSize ?? 5000 });
    for (;;) {
      const timer = setTimeout(() => deadline.abort(), this.timeoutMs);
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        throw this.translate(err, `list ${type}/ at`);
      } finally {
        clearTimeout(timer);
      }
      if (page.done) return;
      for (const blob of page.value.segment.blobItems) {
        const name = blob.name.slice(blob.name.lastIndexOf('/') + 1);
        if (!isValidObjectName(type, name) || blob.name !== this.keyOf({ type, name })) continue;
        yield { name, size: blob.properties.contentLength ?? 0 };
      }
    }
  }

  /**
   * The blob names and "folders" (names up to the next "/") right below `path` under the prefix: how
   * `hindsight server --storage azure:…` finds the repositories it keeps there. Not part of `Backend`.
   */
  async entriesBelow(path: readonly string[]): Promise<{ files: string[]; folders: string[] }> {
    const prefix = path.length === 0 ? this.prefix : `${this.prefix}${path.join('/')}/`;
    const files: string[] = [];
    const folders: string[] = [];
    try {
      for await (const item of this.container.listBlobsByHierarchy('/', { prefix })) {
        if (item.kind === 'prefix') folders.push(item.name.slice(prefix.length).replace(/\/$/, ''));
        else files.push(item.name.slice(prefix.length));
      }
    } catch (err) {
      if (errorCodeOf(err) === 'ContainerNotFound') return { files, folders };
      throw this.translate(err, 'list');
    }
    return { files, folders };
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    const key = this.keyOf(handle);
    try {
      const properties = await this.container.getBlobClient(key).getProperties({ abortSignal: this.deadline(0) });
      return { name: handle.name, size: properties.contentLength ?? 0 };
    } catch (err) {
      throw this.translate(err, 'read', handle);
    }
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    const key = this.keyOf(handle);
    if (range && (range.offset < 0 || range.length < 0)) throw rangeError(this.location, handle, range);
    if (range?.length === 0) return this.emptyRange(handle, range);
    return this.download(handle, key, range, undefined);
  }

  async readInto(handle: ObjectHandle, range: ByteRange, into: Uint8Array): Promise<Uint8Array> {
    const key = this.keyOf(handle);
    if (into.length < range.length) throw new RangeError(`readInto was given ${into.length} bytes for a range of ${range.length}`);
    if (range.offset < 0 || range.length < 0) throw rangeError(this.location, handle, range);
    if (range.length === 0) return this.emptyRange(handle, range);
    return this.download(handle, key, range, into);
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const blob = this.container.getBlockBlobClient(this.keyOf(handle));
    const parts = (Array.isArray(data) ? data : [data]) as readonly Uint8Array[];
    let total = 0;
    for (let i = 0; i < parts.length; i++) total += (parts[i] as Uint8Array).byteLength;
    try {
      if (total <= this.blockSize) {
        await blob.upload(gather(parts), total, { abortSignal: this.deadline(total) });
        return;
      }
      // Block ids are of one length within a blob; a random stem keeps this write's blocks apart from a failed earlier one's.
      const stem = randomBytes(6).toString('hex');
      const ids = await mapConcurrent(sliceParts(parts, total, this.blockSize), this.options.blockConcurrency ?? 4, async (slice, i) => {
        const id = Buffer.from(`${stem}-${String(i).padStart(6, '0')}`).toString('base64');
        const body = gather(slice);
        await blob.stageBlock(id, body, body.length, { abortSignal: this.deadline(body.length) });
        return id;
      });
      await blob.commitBlockList(ids, { abortSignal: this.deadline(0) });
    } catch (err) {
      throw this.translate(err, 'write to', handle);
    }
  }

  async delete(handle: ObjectHandle): Promise<void> {
    try {
      await this.container.getBlobClient(this.keyOf(handle)).delete({ abortSignal: this.deadline(0) });
    } catch (err) {
      if (errorCodeOf(err) === 'BlobNotFound') return;
      throw this.translate(err, 'delete', handle);
    }
  }

  async close(): Promise<void> {
    // The SDK keeps no connection that outlives its requests' keep-alive.
  }

  /**
   * A ranged GET, its body copied straight into `into` (or a buffer of the right size): never
   * concatenated. It gives up when the server sends nothing for the request timeout, however long the
   * whole transfer takes.
   */
  private async download(handle: ObjectHandle, key: string, range: ByteRange | undefined, into: Uint8Array | undefined): Promise<Buffer> {
    const stalled = new AbortController();
    let timer = setTimeout(() => stalled.abort(), this.timeoutMs);
    try {
      let response;
      try {
        response = await this.container.getBlobClient(key).download(range?.offset ?? 0, range?.length, { maxRetryRequests: 0, abortSignal: stalled.signal });
      } catch (err) {
        if (range && errorCodeOf(err) === 'InvalidRange') throw rangeError(this.location, handle, range);
        throw this.translate(err, 'read', handle);
      }
      const body = response.readableStreamBody;
      const length = response.contentLength ?? 0;
      // A range running past the end comes back short rather than failing.
      if (!body || (range && length !== range.length)) {
        (body as { destroy?: () => void } | undefined)?.destroy?.();
        if (range) throw rangeError(this.location, handle, range);
        if (length === 0) return Buffer.alloc(0);
        throw new BackendError('E_IO', `${this.location} sent no body for ${describeObject(handle)}.`, { transient: true });
      }
      const target = into ? Buffer.from(into.buffer, into.byteOffset, length) : Buffer.allocUnsafe(length);
      let received = 0;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          clearTimeout(timer);
          timer = setTimeout(() => stalled.abort(), this.timeoutMs);
          if (received + chunk.length > length) throw new BackendError('E_IO', `${this.location} sent more bytes of ${describeObject(handle)} than it announced.`, { transient: true });
          chunk.copy(target, received);
          received += chunk.length;
        }
      } catch (err) {
        throw this.translate(err, 'read', handle);
      }
      if (received !== length) throw new BackendError('E_IO', `The connection to ${this.location} broke off while reading ${describeObject(handle)} (${received} of ${length} bytes).`, { transient: true });
      return target;
    } finally {
      clearTimeout(timer);
    }
  }

  private async emptyRange(handle: ObjectHandle, range: ByteRange): Promise<Buffer> {
    const { size } = await this.stat(handle);
    if (range.offset > size) throw rangeError(this.location, handle, range, size);
    return Buffer.alloc(0);
  }

  private deadline(bytes: number): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs + Math.ceil(bytes / SLOWEST_BYTES_PER_MS));
  }

  private keyOf(handle: ObjectHandle): string {
    return this.prefix + objectPath(handle);
  }

  /** Turns an SDK or network error into one a person can act on, marking what is worth retrying. Never quotes a key or SAS token. */
  private translate(err: unknown, action: string, handle?: ObjectHandle): BackendError {
    if (err instanceof BackendError) return err;
    const what = handle ? `${describeObject(handle)} at ${this.location}` : this.location;
    const code = errorCodeOf(err);
    const status = (err as AzureError | undefined)?.statusCode;
    const fail = (c: BackendErrorCode, message: string, transient = false) => new BackendError(c, message, { cause: err, transient });
    if (code === 'ContainerNotFound') {
      return fail('E_TARGET_MISSING', `The container "${this.options.container}" does not exist in the storage account "${this.account}". Check the repository location, or create it with "hindsight init".`);
    }
    if (code === 'BlobNotFound' || (status === 404 && code === undefined)) return fail('E_NOT_FOUND', `${what} does not exist.`);
    const bySas = usesSas(this.options.credentials);
    const refused = code === 'AuthenticationFailed' || code === 'InvalidAuthenticationInfo' || status === 401 || /failed to authenticate/i.test(messageOf(err));
    // Signed with the account key, a refusal is the key's (Azurite says AuthorizationFailure for a wrong one), or the account's firewall.
    if (refused || (!bySas && code === 'AuthorizationFailure')) {
      return fail(
        'E_AUTH',
        bySas
          ? `${this.location} refused the SAS token for the storage account "${this.account}" (${code ?? `HTTP ${status}`}): check ${this.options.keptSecret ? 'the SAS token given for this target' : 'AZURE_STORAGE_SAS_TOKEN (or the SharedAccessSignature of AZURE_STORAGE_CONNECTION_STRING)'}; it may be wrong or expired.`
          : `${this.location} refused the account key of the storage account "${this.account}" (${code ?? `HTTP ${status}`}): check ${this.options.keptSecret ? 'the access key given for this target' : 'AZURE_STORAGE_KEY (or the AccountKey of AZURE_STORAGE_CONNECTION_STRING)'}. If the key is right, the account's firewall may not admit this network.`,
      );
    }
    if (code?.startsWith('Authorization') || code === 'InsufficientAccountPermissions' || status === 403) {
      return fail('E_PERMISSION', `Cannot ${action} ${what}: access denied (${code ?? 'HTTP 403'}). A SAS token needs read, add, create, write, delete and list permissions on the container (and an account SAS for "hindsight init" to make the container).`);
    }
    if (code === 'AccountIsDisabled') return fail('E_PERMISSION', `The storage account "${this.account}" is disabled.`);
    if (code === 'ENOTFOUND') return fail('E_UNREACHABLE', `There is no host ${hostOf(this.container.url)} (the name does not resolve): is the storage account "${this.account}" spelt right?`);
    if (code && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNABORTED|REQUEST_SEND_ERROR)$/.test(code)) {
      return fail('E_UNREACHABLE', `Cannot reach ${hostOf(this.container.url)} to ${action} ${what} (${code}).`, true);
    }
    if ((err as AzureError | undefined)?.name === 'AbortError' || (err as AzureError | undefined)?.name === 'TimeoutError') {
      return fail('E_UNREACHABLE', `Trying to ${action} ${what} timed out.`, true);
    }
    if (status !== undefined && (status >= 500 || status === 429 || status === 408)) {
      return fail('E_IO', `Azure Storage had a problem trying to ${action} ${what} (HTTP ${status}${code ? ` ${code}` : ''}).`, true);
    }
    if (code === 'ServerBusy' || code === 'OperationTimedOut' || code === 'InternalError') return fail('E_IO', `Azure Storage asked to slow down (${code}).`, true);
    return fail('E_IO', `Cannot ${action} ${what}: ${messageOf(err).split('\n')[0]}`);
  }
}

/** Whether requests carry a SAS token rather than an account key's signature. */
function usesSas(credentials: AzureCredentials): boolean {
  if ('sasToken' in credentials) return true;
  return 'connectionString' in credentials && /(^|;)\s*SharedAccessSignature=/i.test(credentials.connectionString);
}

/** The SDK's client for the account, with its retries off (the retry wrapper's job). */
function serviceClient(credentials: AzureCredentials): BlobServiceClient {
  const options: StoragePipelineOptions = { retryOptions: { maxTries: 1 }, keepAliveOptions: { enable: true } };
  if ('connectionString' in credentials) {
    try {
      return BlobServiceClient.fromConnectionString(credentials.connectionString, options);
    } catch {
      // The SDK's message may quote the string, key included: neither it nor its error is passed on.
      throw new BackendError('E_AUTH', 'AZURE_STORAGE_CONNECTION_STRING is not a valid connection string: copy it again from the storage account\'s "Access keys" page.');
    }
  }
  const endpoint = (credentials.endpoint ?? `https://${credentials.account}.blob.core.windows.net`).replace(/\/+$/, '');
  if ('key' in credentials) {
    return new BlobServiceClient(endpoint, newPipeline(new StorageSharedKeyCredential(credentials.account, credentials.key), options));
  }
  return new BlobServiceClient(`${endpoint}?${credentials.sasToken}`, newPipeline(new AnonymousCredential(), options));
}

function errorCodeOf(err: unknown): string | undefined {
  const azure = err as AzureError | undefined;
  return azure?.details?.errorCode ?? azure?.code;
}

function messageOf(err: unknown): string {
  return (err as AzureError | undefined)?.message ?? String(err);
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the storage account';
  }
}

