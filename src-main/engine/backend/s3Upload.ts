import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { BackendError, type ObjectWriter } from './backend.js';

export interface S3UploadTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Bytes per part (the last one shorter); an object no larger is one PUT. */
  readonly partSize: number;
  /** Parts sent at once; appends wait while this many are in flight. */
  readonly concurrency: number;
  /** Turns an SDK error into the backend's. */
  translate(err: unknown): BackendError;
}

/**
 * An object streamed to S3 as it comes: parts of `partSize` go up as a multipart upload while the next
 * fills, `concurrency` at most in flight, so an upload holds at most (concurrency + 1) parts in memory
 * however large the object. Nothing is visible before `commit` (a multipart upload appears only when
 * completed; a small object is one PUT then); `abort`, and any failure, aborts the multipart upload so
 * its parts stop costing storage. Not retried: appended bytes are not kept to be sent again.
 */
export class S3Upload implements ObjectWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private uploadId: Promise<string> | undefined;
  private nextPart = 1;
  private readonly sent: { ETag: string | undefined; PartNumber: number }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(private readonly target: S3UploadTarget) {}

  async append(data: Uint8Array): Promise<void> {
    this.assertOpen();
    // A copy: the caller may reuse `data` once this resolves, while the part waits its turn.
    this.pending.push(Buffer.from(data));
    this.pendingBytes += data.byteLength;
    try {
      while (this.pendingBytes >= this.target.partSize) await this.sendPart(this.take(this.target.partSize));
    } catch (err) {
      await this.abort();
      throw this.target.translate(err);
    }
  }

  async commit(): Promise<void> {
    this.assertOpen();
    const { client, bucket, key } = this.target;
    try {
      if (this.uploadId === undefined) {
        const body = this.take(this.pendingBytes);
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
      } else {
        if (this.pendingBytes > 0) await this.sendPart(this.take(this.pendingBytes));
        await Promise.all(this.inFlight);
        if (this.failure !== undefined) throw this.failure;
        const parts = [...this.sent].sort((a, b) => a.PartNumber - b.PartNumber);
        await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: await this.uploadId, MultipartUpload: { Parts: parts } }));
      }
      this.state = 'committed';
    } catch (err) {
      await this.abort();
      throw this.target.translate(err);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.pending = [];
    this.pendingBytes = 0;
    if (this.uploadId === undefined) return;
    await Promise.allSettled(this.inFlight);
    const uploadId = await this.uploadId.catch(() => undefined);
    if (uploadId === undefined) return;
    const { client, bucket, key } = this.target;
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new BackendError('E_IO', `The upload of ${this.target.key} was already ${this.state}.`);
  }

  /** The first `size` pending bytes as one buffer; the rest stays pending. */
  private take(size: number): Buffer {
    const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    const rest = all.subarray(size);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return all.subarray(0, size);
  }

  private async sendPart(body: Buffer): Promise<void> {
    const { client, bucket, key, concurrency } = this.target;
    while (this.inFlight.size >= concurrency) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
    this.uploadId ??= client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })).then(({ UploadId }) => {
      if (!UploadId) throw new BackendError('E_IO', `The S3 server did not start a multipart upload for ${key}.`, { transient: true });
      return UploadId;
    });
    const uploadId = await this.uploadId;
    const PartNumber = this.nextPart++;
    const sending: Promise<void> = client
      .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body: body, ContentLength: body.length }))
      .then(({ ETag }) => void this.sent.push({ ETag, PartNumber }))
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }
}
