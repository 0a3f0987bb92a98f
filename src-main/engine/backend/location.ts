import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { HindsightError } from '../../../src-shared/errors.js';
import type { Backend } from './backend.js';
import { LocalBackend } from './localBackend.js';
import { azureLocationName, restLocationName, s3LocationName, sftpLocationName } from './backendNames.js';
import { azureCredentialsFor, type KeptAzureSecret } from './azureCredentials.js';
import { LazyBackend } from './lazyBackend.js';
import { RateLimitedBackend } from './rateLimitedBackend.js';
import { ReplicatedBackend, type ReplicationEvent } from './replicatedBackend.js';
import { RetryingBackend, type RetryPolicy } from './retryingBackend.js';

export type ParsedLocation =
  | { readonly kind: 'local'; readonly path: string }
  | { readonly kind: 'sftp'; readonly host: string; readonly port: number; readonly username: string; readonly path: string }
  | { readonly kind: 's3'; readonly endpoint: string | undefined; readonly bucket: string; readonly prefix: string }
  /** `url` carries no credentials; those written in the location are kept apart, never shown. */
  | { readonly kind: 'rest'; readonly url: string; readonly username: string | undefined; readonly password: string | undefined }
  /** `remote` is what rclone is given: REMOTE:PATH, or any path rclone takes. */
  | { readonly kind: 'rclone'; readonly remote: string }
  /** `account` undefined: the environment's (AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT). */
  | { readonly kind: 'azure'; readonly account: string | undefined; readonly container: string; readonly prefix: string };

/** Settings for remote targets that are not part of a location (keys, host trust, S3 region), plus the wrappers' settings. */
export interface TargetOptions {
  readonly sshKeys?: readonly string[];
  readonly knownHostsFile?: string;
  readonly acceptNewHostKey?: boolean;
  readonly confirmNewHostKey?: (host: string, fingerprint: string) => Promise<boolean>;
  /** Asked for the passphrase of an SSH key that needs one (see SftpOptions.askPassphrase). */
  readonly askPassphrase?: (keyFile: string, again: boolean) => Promise<string>;
  readonly s3Region?: string;
  /** Bucket in the host name rather than in the path (AWS's preferred style); default only for AWS itself. */
  readonly s3VirtualHosted?: boolean;
  /** A PEM file of certificates to trust for rest:https://… (a server with a self-signed certificate). */
  readonly restCaCert?: string;
  /** rest: locations whose user name and password are not written in them (the agent keeps them in the keychain); before the environment's. */
  readonly restCredentials?: { readonly username?: string; readonly password?: string };
  /** azure:// locations whose key or SAS token is kept apart (the agent keeps it in the keychain); before the environment's. */
  readonly azureSecret?: KeptAzureSecret;
  /** The Azure account's blob endpoint when not https://ACCOUNT.blob.core.windows.net (Azurite, a national cloud). */
  readonly azureEndpoint?: string;
  /** The rclone program for rclone: locations (default $HINDSIGHT_RCLONE_PROGRAM, else "rclone" on the PATH). */
  readonly rcloneProgram?: string;
  /** What rclone runs before the remote, as one line (default $HINDSIGHT_RCLONE_ARGS, else "serve restic --stdio --b2-hard-delete"). */
  readonly rcloneArgs?: string;
  /** The SHA-256 fingerprint of the one certificate to trust for rest:https://…, instead of any CA. */
  readonly restFingerprint?: string;
  readonly uploadBytesPerSecond?: number;
  readonly retry?: RetryPolicy;
  /** With several targets: reports targets going down and reads served by another target. */
  readonly onReplicationEvent?: (event: ReplicationEvent) => void;
}

function usage(message: string): HindsightError {
  return new HindsightError('E_USAGE', message);
}

/**
 * Parses a repository location as a person writes it:
 *   /path, ./path, local:/path                a folder
 *   sftp://[user@]host[:port]/absolute/path   SFTP; /~/path is relative to the home folder
 *   s3://host[:port]/bucket[/prefix]          S3-compatible server over HTTPS
 *   s3:http://host:port/bucket[/prefix]       the same over plain HTTP (or s3:https://…)
 *   s3:bucket[/prefix]                        AWS S3 (region from --s3-region or AWS_REGION)
 *   rest:http[s]://[user:pass@]host[:port]/path   restic's REST protocol (rest-server, rclone serve restic)
 *   rclone:REMOTE:PATH                        any rclone remote, through rclone serve restic --stdio
 *   azure:container[/prefix]                  Azure Blob Storage, account from the environment
 *   azure://account/container[/prefix]        the same in a named account
 */
export function parseLocation(location: string): ParsedLocation {
  const trimmed = location.trim();
  if (trimmed === '') throw usage('The repository location is empty.');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  // A one-letter scheme is a Windows drive (C:\backups).
  if (scheme === undefined || /^[a-z]$/i.test(scheme)) return { kind: 'local', path: trimmed };
  if (scheme === 'local') return { kind: 'local', path: trimmed.slice('local:'.length) };
  if (scheme === 'sftp') return parseSftp(trimmed);
  if (scheme === 's3') return parseS3(trimmed);
  if (scheme === 'rest') return parseRest(trimmed);
  if (scheme === 'rclone') return parseRclone(trimmed);
  if (scheme === 'azure') return parseAzure(trimmed);
  throw usage(`Unknown repository location "${location}": use a folder path, local:/path, sftp://user@host/path, s3://host/bucket/prefix, rest:http://host:port/path, rclone:REMOTE:PATH or azure:container/prefix.`);
}

function parseSftp(text: string): ParsedLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`"${text}" is not a valid SFTP location; write sftp://user@host[:port]/path.`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw usage(`"${text}" names no host; write sftp://user@host[:port]/path.`);
  const path = decodeURIComponent(url.pathname);
  if (path === '' || path === '/') throw usage(`"${text}" names no folder; write sftp://user@host[:port]/path (or /~/path for a folder in your home).`);
  return {
    kind: 'sftp',
    host,
    port: url.port === '' ? 22 : Number(url.port),
    username: url.username === '' ? userInfo().username : decodeURIComponent(url.username),
    path: path.startsWith('/~/') ? path.slice(3) : path,
  };
}

function parseS3(text: string): ParsedLocation {
  const rest = text.slice('s3:'.length);
  let endpoint: string | undefined;
  let path: string;
  if (rest.startsWith('//') || /^https?:\/\//i.test(rest)) {
    let url: URL;
    try {
      url = new URL(rest.startsWith('//') ? `https:${rest}` : rest);
    } catch {
      throw usage(`"${text}" is not a valid S3 location; write s3://host[:port]/bucket/prefix or s3:bucket/prefix.`);
    }
    endpoint = `${url.protocol}//${url.host}`;
    path = decodeURIComponent(url.pathname);
  } else {
    path = rest;
  }
  const [bucket, ...prefix] = path.split('/').filter(Boolean);
  if (!bucket) throw usage(`"${text}" names no bucket; write s3://host/bucket/prefix or s3:bucket/prefix.`);
  return { kind: 's3', endpoint, bucket, prefix: prefix.join('/') };
}

function parseRest(text: string): ParsedLocation {
  const rest = text.slice('rest:'.length);
  let url: URL | undefined;
  try {
    url = new URL(rest);
  } catch {
    url = undefined;
  }
  // The message does not quote the location: it may carry a password.
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw usage('A rest: location is rest:http://host:port/path or rest:https://host/path.');
  }
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return { kind: 'rest', url: url.toString(), username, password };
}

function parseRclone(text: string): ParsedLocation {
  const remote = text.slice('rclone:'.length);
  if (remote === '') throw usage('An rclone: location is rclone:REMOTE:PATH, with a remote from "rclone listremotes".');
  return { kind: 'rclone', remote };
}

function parseAzure(text: string): ParsedLocation {
  const rest = text.slice('azure:'.length);
  const named = rest.startsWith('//');
  const parts = (named ? rest.slice(2) : rest).split('/').filter(Boolean);
  const account = named ? parts.shift() : undefined;
  const [container, ...prefix] = parts;
  const form = named ? 'azure://account/container/prefix' : 'azure:container/prefix';
  if (named && !/^[a-z0-9]{3,24}$/.test(account ?? '')) throw usage(`"${text}" does not name a storage account (3 to 24 lower-case letters and digits); write ${form}.`);
  if (!container) throw usage(`"${text}" names no container; write ${form}.`);
  // The service's own rule, checked here so a typo gets a clear word rather than HTTP 400.
  if (!/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container)) {
    throw usage(`"${container}" is not a valid Azure container name: 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit.`);
  }
  return { kind: 'azure', account, container, prefix: prefix.join('/') };
}

/** The backend for one location; remote ones retry transient errors, and uploads keep to the limit when one is set. */
export function backendFor(location: string, options: TargetOptions = {}): Backend {
  const parsed = parseLocation(location);
  let backend: Backend;
  if (parsed.kind === 'local') {
    backend = new LocalBackend(parsed.path);
  } else {
    const remote = remoteOpener(parsed, options);
    backend = new RetryingBackend(new LazyBackend(remote.name, remote.open), options.retry);
  }
  return options.uploadBytesPerSecond ? new RateLimitedBackend(backend, options.uploadBytesPerSecond) : backend;
}

/**
 * How to reach a remote location: its name for messages (without secrets), and how to open its backend
 * as it is, without retries (its module loaded then). `backendFor` wraps it; `hindsight server` uses it
 * to stream uploads through the backend's own writer.
 */
export function remoteOpener(parsed: Exclude<ParsedLocation, { kind: 'local' }>, options: TargetOptions = {}): { readonly name: string; open(): Promise<Backend> } {
  switch (parsed.kind) {
    case 'sftp': {
      const sftp = {
        host: parsed.host,
        port: parsed.port,
        username: parsed.username,
        path: parsed.path,
        ...(options.sshKeys && options.sshKeys.length > 0 ? { identityFiles: options.sshKeys } : {}),
        ...(options.knownHostsFile ? { knownHostsFile: options.knownHostsFile } : {}),
        ...(options.acceptNewHostKey ? { acceptNewHostKey: true } : {}),
        ...(options.confirmNewHostKey ? { confirmNewHostKey: options.confirmNewHostKey } : {}),
        ...(options.askPassphrase ? { askPassphrase: options.askPassphrase } : {}),
      };
      return { name: sftpLocationName(sftp), open: async () => new (await import('./sftpBackend.js')).SftpBackend(sftp) };
    }
    case 's3': {
      const s3 = {
        bucket: parsed.bucket,
        prefix: parsed.prefix,
        ...(parsed.endpoint ? { endpoint: parsed.endpoint } : {}),
        ...(options.s3Region ? { region: options.s3Region } : {}),
        pathStyle: parsed.endpoint !== undefined && !options.s3VirtualHosted,
      };
      return { name: s3LocationName(s3), open: async () => new (await import('./s3Backend.js')).S3Backend(s3) };
    }
    case 'rest': {
      // As restic: credentials in the location win; the environment gives them only when it has none.
      const fromUrl = parsed.username !== undefined || parsed.password !== undefined;
      const given = fromUrl ? parsed : options.restCredentials;
      const username = given ? given.username : process.env.HINDSIGHT_REST_USERNAME;
      const password = given ? given.password : process.env.HINDSIGHT_REST_PASSWORD;
      const caFile = options.restCaCert;
      const open = async () => {
        const rest = {
          url: parsed.url,
          ...(username !== undefined ? { username } : {}),
          ...(password !== undefined ? { password } : {}),
          ...(caFile ? { ca: await readCertificate(caFile) } : {}),
          ...(options.restFingerprint ? { fingerprint: options.restFingerprint } : {}),
        };
        return new (await import('./restBackend.js')).RestBackend(rest);
      };
      return { name: restLocationName(new URL(parsed.url)), open };
    }
    case 'rclone':
      return { name: `rclone:${parsed.remote}`, open: () => rcloneBackend(parsed.remote, options) };
    case 'azure': {
      const { account, container, prefix } = parsed;
      const open = async () => {
        const credentials = azureCredentialsFor(account, options.azureSecret, options.azureEndpoint);
        return new (await import('./azureBackend.js')).AzureBackend({ container, prefix, ...(account ? { account } : {}), credentials, ...(options.azureSecret ? { keptSecret: true } : {}) });
      };
      return { name: azureLocationName(parsed), open };
    }
  }
}

async function rcloneBackend(remote: string, options: TargetOptions): Promise<Backend> {
  const [{ RestBackend }, { RcloneTransport, splitArguments }] = await Promise.all([import('./restBackend.js'), import('./rcloneTransport.js')]);
  const program = options.rcloneProgram ?? process.env.HINDSIGHT_RCLONE_PROGRAM;
  const args = options.rcloneArgs ?? process.env.HINDSIGHT_RCLONE_ARGS;
  const transport = new RcloneTransport({ remote, ...(program ? { program } : {}), ...(args ? { args: splitArguments(args) } : {}) });
  return new RestBackend({ location: `rclone:${remote}`, transport });
}

async function readCertificate(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw usage(`Cannot read the certificate file ${file} given with --rest-cacert: ${(err as Error).message}`);
  }
}

/** One location gives its backend; several give one repository replicated on all of them. `perTarget` adds each target's own options. */
export function backendForTargets(locations: readonly string[], options: TargetOptions = {}, perTarget?: (location: string) => TargetOptions): Backend {
  if (locations.length === 0) throw usage('No repository location given.');
  const backends = locations.map((location) => backendFor(location, { ...options, ...perTarget?.(location) }));
  if (backends.length === 1) return backends[0] as Backend;
  const seen = new Set<string>();
  for (const backend of backends) {
    if (seen.has(backend.location)) throw usage(`The target ${backend.location} is given twice.`);
    seen.add(backend.location);
  }
  return new ReplicatedBackend(backends, options.onReplicationEvent);
}
