import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mapConcurrent } from '../concurrency.js';
import { s3LocationName, s3Prefix } from './backendNames.js';
import { gather, sliceParts } from './objectParts.js';
import { BackendError, describeObject, isValidObjectName, objectPath, rangeError, type Backend, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType, type ObjectWriter } from './backend.js';
import { S3Upload } from './s3Upload.js';

export interface S3Options {
  readonly bucket: string;
  /** Key prefix of the repository inside the bucket ("" for the bucket's top). */
  readonly prefix?: string;
  /** e.g. http://127.0.0.1:9000 for MinIO; default: AWS for the region. */
  readonly endpoint?: string;
  /** Default $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1. */
  readonly region?: string;
  /** bucket in the path (MinIO, Ceph RGW, most self-hosted servers) rather than in the host name. Default: true when an endpoint is given. */
  readonly pathStyle?: boolean;
  /** Default: the standard AWS chain (environment, ~/.aws/credentials and config, SSO, container and instance roles). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Objects larger than this are sent in parts of this size (multipart upload); at least 5 MiB on AWS. */
  readonly partSize?: number;
  readonly partConcurrency?: number;
  readonly requestTimeoutMs?: number;
}

const MiB = 1024 * 1024;

/**
 * A repository in an S3-compatible bucket. Every write is a single PUT or a
 * multipart upload completed only once every part is stored, so an object
 * appears whole or not at all; a failed multipart upload is aborted. Reads
 * are ranged GETs. The SDK's own retries are off: the retry wrapper does
 * that for every backend alike.
 */
export class S3Backend implements Backend {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(private readonly options: S3Options) {
    this.bucket = options.bucket;
    this.prefix = s3Prefix(options.prefix);
    this.partSize = options.partSize ?? 8 * MiB;
    this.location = s3LocationName(options);
    const timeout = options.requestTimeoutMs ?? 60_000;
    this.client = new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.pathStyle ?? options.endpoint !== undefined,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: 1,
      // Checksums only where S3 requires them: older MinIO, Ceph and other servers reject the newer trailing-checksum uploads.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: Math.min(timeout, 15_000), requestTimeout: timeout },
    });
  }

  async create(): Promise<void> {
    if (await this.exists(this.keyOf({ type: 'config', name: 'config' }))) {
      throw new BackendError('E_ALREADY_EXISTS', `There is already a Hindsight repository at ${this.location}.`);
    }
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (statusOf(err) !== 404) throw this.translate(err, 'open the bucket of');
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (createError) {
        if (nameOf(createError) !== 'BucketAlreadyOwnedByYou') throw this.translate(createError, 'create the bucket for');
      }
    }
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    const folder = type === 'config' ? this.prefix : `${this.prefix}${type}/`;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: folder, ...(type === 'config' ? { Delimiter: '/' } : {}), ...(token ? { ContinuationToken: token } : {}) }),
        );
      } catch (err) {
        throw this.translate(err, 'list');
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key ?? '';
        const name = key.slice(key.lastIndexOf('/') + 1);
        if (!isValidObjectName(type, name) || key !== this.keyOf({ type, name })) continue;
        yield { name, size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    const key = this.keyOf(handle);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { name: handle.name, size: head.ContentLength ?? 0 };
    } catch (err) {
      throw this.translate(err, 'read', handle);
    }
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    const key = this.keyOf(handle);
    if (range && (range.offset < 0 || range.length < 0)) throw rangeError(this.location, handle, range);
    if (range && range.length === 0) {
      const { size } = await this.stat(handle);
      if (range.offset > size) throw rangeError(this.location, handle, range, size);
      return Buffer.alloc(0);
    }
    let bytes: Buffer;
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}) }),
      );
      bytes = Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array(0));
    } catch (err) {
      if (range && (statusOf(err) === 416 || nameOf(err) === 'InvalidRange')) throw rangeError(this.location, handle, range);
      throw this.translate(err, 'read', handle);
    }
    // A range running past the end comes back short rather than failing.
    if (range && bytes.length !== range.length) throw rangeError(this.location, handle, range);
    return bytes;
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const key = this.keyOf(handle);
    const parts = (Array.isArray(data) ? data : [data]) as readonly Uint8Array[];
    let total = 0;
    for (let i = 0; i < parts.length; i++) total += (parts[i] as Uint8Array).byteLength;
    try {
      if (total <= this.partSize) {
        const body = gather(parts);
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }));
      } else {
        await this.writeInParts(key, parts, total);
      }
    } catch (err) {
      throw this.translate(err, 'write to', handle);
    }
  }

  /** Streams an object in parts as it comes (see `S3Upload`): for `hindsight server`, which must not hold an upload whole. */
  createWriter(handle: ObjectHandle): ObjectWriter {
    return new S3Upload({
      client: this.client,
      bucket: this.bucket,
      key: this.keyOf(handle),
      partSize: this.partSize,
      concurrency: this.options.partConcurrency ?? 4,
      translate: (err) => this.translate(err, 'write to', handle),
    });
  }

  async delete(handle: ObjectHandle): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(handle) }));
    } catch (err) {
      if (statusOf(err) === 404 && nameOf(err) !== 'NoSuchBucket') return;
      throw this.translate(err, 'delete from', handle);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async writeInParts(key: string, parts: readonly Uint8Array[], total: number): Promise<void> {
    const started = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    const uploadId = started.UploadId;
    if (!uploadId) throw new BackendError('E_IO', `${this.location} did not start a multipart upload for ${key}.`, { transient: true });
    try {
      const slices = sliceParts(parts, total, this.partSize);
      const etags = await mapConcurrent(slices, this.options.partConcurrency ?? 4, async (slice, i) => {
        const body = gather(slice);
        const uploaded = await this.client.send(
          new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: body.length }),
        );
        return uploaded.ETag;
      });
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
    } catch (err) {
      // Parts of an unfinished upload are never visible as the object, but they cost storage until aborted.
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw err;
    }
  }

  private keyOf(handle: ObjectHandle): string {
    return this.prefix + objectPath(handle);
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw this.translate(err, 'read');
    }
  }

  /** Turns an SDK or network error into one a person can act on, marking what is worth retrying. */
  private translate(err: unknown, action: string, handle?: ObjectHandle): BackendError {
    if (err instanceof BackendError) return err;
    const what = handle ? `${describeObject(handle)} at ${this.location}` : this.location;
    const name = nameOf(err);
    const status = statusOf(err);
    const code = (err as { code?: string } | undefined)?.code;
    const detail = (err as Error | undefined)?.message ?? String(err);
    const fail = (c: ConstructorParameters<typeof BackendError>[0], message: string, transient = false) =>
      new BackendError(c, message, { cause: err, transient });
    if (name === 'NoSuchBucket') {
      return fail('E_TARGET_MISSING', `The bucket "${this.bucket}" does not exist${this.options.endpoint ? ` at ${this.options.endpoint}` : ''}. Check the repository location, or create it with "hindsight init".`);
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return fail('E_NOT_FOUND', `${what} does not exist.`);
    if (name === 'CredentialsProviderError') {
      return fail('E_AUTH', `No S3 credentials found for ${this.location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE for ~/.aws/credentials.`);
    }
    if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'InvalidToken' || name === 'ExpiredToken') {
      return fail('E_AUTH', `${this.location} refused the S3 credentials (${name}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile in use).`);
    }
    if (name === 'AccessDenied' || status === 403) {
      // A HEAD request's 403 has no body to tell wrong credentials from missing permission.
      return fail('E_PERMISSION', `Cannot ${action} ${what}: access denied (HTTP 403): check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or the profile) and that they may use this bucket and prefix.`);
    }
    if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || status === 301) {
      return fail('E_IO', `The bucket "${this.bucket}" is in another region: give its region with --s3-region (or AWS_REGION).`);
    }
    if (code === 'ENOTFOUND') return fail('E_UNREACHABLE', `There is no host "${hostOf(this.options.endpoint)}" (the name does not resolve). Check the endpoint.`);
    if (code && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNABORTED)$/.test(code)) {
      return fail('E_UNREACHABLE', `Cannot reach ${hostOf(this.options.endpoint)} to ${action} ${what} (${code}).`, true);
    }
    if (name === 'TimeoutError' || name === 'RequestTimeout' || name === 'RequestTimeoutException') return fail('E_UNREACHABLE', `${action} ${what} timed out.`, true);
    if (status !== undefined && (status >= 500 || status === 429)) return fail('E_IO', `The S3 server had a problem trying to ${action} ${what} (HTTP ${status} ${name ?? ''}).`, true);
    if (name === 'SlowDown' || name === 'InternalError' || name === 'ServiceUnavailable') return fail('E_IO', `The S3 server asked to slow down (${name}).`, true);
    return fail('E_IO', `Cannot ${action} ${what}: ${detail}`);
  }
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function hostOf(endpoint: string | undefined): string {
  if (!endpoint) return 'the S3 service';
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
}
