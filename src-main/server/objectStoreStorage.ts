import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Backend } from '../engine/backend/backend.js';
import { s3Prefix } from '../engine/backend/backendNames.js';
import { backendFor } from '../engine/backend/location.js';
import { MAX_REPOSITORY_DEPTH, isRepositorySegment } from './objectRoute.js';
import { looksLikeRepository, type RepositoryStorage } from './repositoryStorage.js';

export interface ObjectStoreLocation {
  /** The --storage location as given: s3:http://host:port/bucket/prefix, s3://host/bucket/prefix, s3:bucket/prefix. */
  readonly location: string;
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly prefix: string;
}

/**
 * Repositories on an S3-compatible store (MinIO, Ceph RGW, AWS…): the repository at alice/laptop is the
 * prefix PREFIX/alice/laptop/ of the bucket, opened through the engine's S3 backend (with its retries),
 * one kept per repository for its connections. Credentials come from the AWS chain, as for `s3:` targets.
 */
export function objectStoreStorage(store: ObjectStoreLocation): RepositoryStorage {
  const backends = new Map<string, Backend>();
  const base = s3Prefix(store.prefix);
  const location = store.location.replace(/\/+$/, '');
  let lister: S3Client | undefined;
  const client = () =>
    (lister ??= new S3Client({
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(store.endpoint ? { endpoint: store.endpoint } : {}),
      forcePathStyle: store.endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }));

  /** The names of the objects and of the "folders" (common prefixes) right below `path`. */
  async function entries(path: readonly string[]): Promise<{ files: string[]; folders: string[] }> {
    const prefix = path.length === 0 ? base : `${base}${path.join('/')}/`;
    const files: string[] = [];
    const folders: string[] = [];
    let token: string | undefined;
    do {
      const page = await client().send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }));
      for (const object of page.Contents ?? []) files.push((object.Key ?? '').slice(prefix.length));
      for (const common of page.CommonPrefixes ?? []) folders.push((common.Prefix ?? '').slice(prefix.length).replace(/\/$/, ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { files, folders };
  }

  async function* walk(path: readonly string[]): AsyncIterable<readonly string[]> {
    const { files, folders } = await entries(path);
    if (looksLikeRepository(files, folders)) {
      yield path;
      return;
    }
    if (path.length >= MAX_REPOSITORY_DEPTH) return;
    for (const folder of folders) if (isRepositorySegment(folder)) yield* walk([...path, folder]);
  }

  const locationOf = (repository: readonly string[]) => `${location}/${repository.join('/')}`;
  return {
    description: location,
    backendFor(repository) {
      const key = repository.join('/');
      let backend = backends.get(key);
      if (!backend) {
        backend = backendFor(locationOf(repository));
        backends.set(key, backend);
      }
      return backend;
    },
    locationOf,
    repositories: (prefix) => walk(prefix),
    async close() {
      await Promise.all([...backends.values()].map((backend) => backend.close()));
      backends.clear();
      lister?.destroy();
    },
  };
}
