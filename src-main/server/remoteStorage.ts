import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { HindsightError } from '../../src-shared/errors.js';
import type { Backend, ObjectHandle, ObjectWriter } from '../engine/backend/backend.js';
import { s3Prefix } from '../engine/backend/backendNames.js';
import { LazyBackend } from '../engine/backend/lazyBackend.js';
import { parseLocation, remoteOpener, type ParsedLocation, type TargetOptions } from '../engine/backend/location.js';
import { RetryingBackend } from '../engine/backend/retryingBackend.js';
import { MAX_REPOSITORY_DEPTH, isRepositorySegment } from './objectRoute.js';
import { gatheredWriter } from './gatheredWriter.js';
import { looksLikeRepository, type RepositoryStorage } from './repositoryStorage.js';

type RemoteLocation = Exclude<ParsedLocation, { kind: 'local' }>;

/** The object and folder names right below a path of the storage. */
interface Entries {
  readonly files: string[];
  readonly folders: string[];
}

/** How the repositories on a storage are found: what lies right below a path. */
interface Lister {
  entries(path: readonly string[]): Promise<Entries>;
  close(): Promise<void>;
}

/**
 * Repositories on a remote backend (`--storage`): the repository at alice/laptop is the location
 * LOCATION/alice/laptop, an ordinary repository of its kind (S3 prefix, SFTP folder, Azure prefix, REST
 * path) that also opens directly with --repo. Each is opened once and kept, for its connections; reads,
 * listings and deletes retry as for any target, while uploads stream through the backend's own writer
 * where it has one (S3; not retried: the client retries a failed upload) and are gathered in memory
 * where it has none (REST, SFTP, Azure: at most --max-upload each). `options` are the CLI's target
 * options (--ssh-key, --known-hosts, --s3-region, --rest-cacert…); credentials come from where the CLI
 * takes them for that kind (the AWS chain, ssh keys, AZURE_STORAGE_*, HINDSIGHT_REST_USERNAME/PASSWORD).
 */
export function remoteStorage(location: string, parsed: RemoteLocation, options: TargetOptions = {}): RepositoryStorage {
  const base = location.replace(/\/+$/, '');
  const backends = new Map<string, Backend>();
  const lister = listerFor(parsed, options);
  const locationOf = (repository: readonly string[]) => `${base}/${repository.join('/')}`;

  async function* walk(path: readonly string[]): AsyncIterable<readonly string[]> {
    if (!lister) throw new HindsightError('E_USAGE', `A REST server cannot list the repositories it holds, so hindsight server cannot find those in ${remoteOpener(parsed).name}: quotas, "server status" and "server prune" need --storage on a folder, S3, SFTP or Azure.`);
    const { files, folders } = await lister.entries(path);
    if (looksLikeRepository(files, folders)) {
      yield path;
      return;
    }
    if (path.length >= MAX_REPOSITORY_DEPTH) return;
    for (const folder of folders) if (isRepositorySegment(folder)) yield* walk([...path, folder]);
  }

  return {
    description: remoteOpener(parsed).name,
    backendFor(repository) {
      const key = repository.join('/');
      let backend = backends.get(key);
      if (!backend) {
        backend = streamingBackend(locationOf(repository), options);
        backends.set(key, backend);
      }
      return backend;
    },
    locationOf,
    repositories: (prefix) => walk(prefix),
    listable: lister !== undefined,
    async close() {
      await Promise.all([...backends.values()].map((backend) => backend.close()));
      backends.clear();
      await lister?.close();
    },
  };
}

/**
 * A repository's backend for the server: everything retried as for any target, but uploads written
 * through the backend's own writer (see `Backend.createWriter`), or gathered where it has none.
 */
function streamingBackend(location: string, options: TargetOptions): Backend {
  const parsed = parseLocation(location);
  if (parsed.kind === 'local') throw new Error(`${location} is not a remote location`);
  const { name, open } = remoteOpener(parsed, options);
  let opened: Promise<Backend> | undefined;
  const raw = () => (opened ??= open());
  const retrying = new RetryingBackend(new LazyBackend(name, raw));
  return {
    location: retrying.location,
    create: () => retrying.create(),
    list: (type) => retrying.list(type),
    stat: (handle) => retrying.stat(handle),
    read: (handle, range) => retrying.read(handle, range),
    write: (handle, data) => retrying.write(handle, data),
    delete: (handle) => retrying.delete(handle),
    sweepTemporaryFiles: (dryRun) => retrying.sweepTemporaryFiles(dryRun),
    close: () => retrying.close(),
    createWriter: (handle) => lazyWriter(raw, handle),
  };
}

/** A writer that opens the backend, and its writer, on the first call. */
function lazyWriter(raw: () => Promise<Backend>, handle: ObjectHandle): ObjectWriter {
  let writer: Promise<ObjectWriter> | undefined;
  const open = () => (writer ??= raw().then((backend) => (backend.createWriter ? backend.createWriter(handle) : gatheredWriter(backend, handle))));
  return {
    append: async (data) => (await open()).append(data),
    commit: async () => (await open()).commit(),
    abort: async () => {
      const opened = await writer?.catch(() => undefined);
      await opened?.abort();
    },
  };
}

function listerFor(parsed: RemoteLocation, options: TargetOptions): Lister | undefined {
  switch (parsed.kind) {
    case 's3':
      return s3Lister(parsed);
    case 'sftp':
    case 'azure': {
      // The backend at the storage's top lists what is below it (one connection, kept for the server's life).
      const { open } = remoteOpener(parsed, options);
      let opened: Promise<Backend & { entriesBelow?(path: readonly string[]): Promise<Entries> }> | undefined;
      const top = () => (opened ??= open() as Promise<Backend & { entriesBelow?(path: readonly string[]): Promise<Entries> }>);
      return {
        entries: async (path) => {
          const backend = await top();
          if (!backend.entriesBelow) throw new Error(`${backend.location} cannot list folders`);
          return backend.entriesBelow(path);
        },
        close: async () => {
          if (opened) await (await opened).close();
        },
      };
    }
    default:
      return undefined;
  }
}

/** Names right below a path of an S3 bucket's prefix, by ListObjectsV2 with a delimiter. */
function s3Lister(store: Extract<RemoteLocation, { kind: 's3' }>): Lister {
  const base = s3Prefix(store.prefix);
  let client: S3Client | undefined;
  const connect = () =>
    (client ??= new S3Client({
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(store.endpoint ? { endpoint: store.endpoint } : {}),
      forcePathStyle: store.endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }));
  return {
    async entries(path) {
      const prefix = path.length === 0 ? base : `${base}${path.join('/')}/`;
      const files: string[] = [];
      const folders: string[] = [];
      let token: string | undefined;
      do {
        const page = await connect().send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }));
        for (const object of page.Contents ?? []) files.push((object.Key ?? '').slice(prefix.length));
        for (const common of page.CommonPrefixes ?? []) folders.push((common.Prefix ?? '').slice(prefix.length).replace(/\/$/, ''));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return { files, folders };
    },
    close: async () => client?.destroy(),
  };
}
