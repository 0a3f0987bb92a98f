import { sweepTemporaryFiles, type Backend, type ByteRange, type ObjectHandle, type ObjectInfo, type ObjectType, type TemporaryFiles } from './backend.js';

/**
 * A backend whose module loads on first use. The S3 SDK and ssh2 take about
 * 100 ms to load, which every command paid, a local backup included, when
 * they were imported up front.
 */
export class LazyBackend implements Backend {
  private loaded: Promise<Backend> | undefined;

  constructor(
    readonly location: string,
    private readonly load: () => Promise<Backend>,
  ) {}

  private backend(): Promise<Backend> {
    return (this.loaded ??= this.load());
  }

  async create(): Promise<void> {
    return (await this.backend()).create();
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    yield* (await this.backend()).list(type);
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    return (await this.backend()).stat(handle);
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    return (await this.backend()).read(handle, range);
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return (await this.backend()).write(handle, data);
  }

  async delete(handle: ObjectHandle): Promise<void> {
    return (await this.backend()).delete(handle);
  }

  async sweepTemporaryFiles(dryRun: boolean): Promise<TemporaryFiles> {
    return sweepTemporaryFiles(await this.backend(), dryRun);
  }

  async close(): Promise<void> {
    if (this.loaded) await (await this.loaded).close();
  }
}
