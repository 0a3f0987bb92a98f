import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { posix } from 'node:path';
import ssh2, { type AgentAuthMethod, type Client as SshClient, type PublicKeyAuthMethod, type SFTPWrapper, type Stats } from 'ssh2';
import { mapConcurrent } from '../concurrency.js';
import {
  BackendError,
  OBJECT_TYPES,
  isValidObjectName,
  objectPath,
  type Backend,
  type ByteRange,
  type ObjectHandle,
  type ObjectInfo,
  type ObjectType,
  type TemporaryFiles,
} from './backend.js';
import { sftpLocationName } from './backendNames.js';
import { fingerprint, keyType, rememberHostKey, verifyHostKey } from './knownHosts.js';

const { Client, utils } = ssh2;

export interface SftpOptions {
  readonly host: string;
  readonly port?: number;
  readonly username: string;
  /** The repository folder: absolute, or relative to the user's home folder on the server. */
  readonly path: string;
  /** Private key files to offer; default: the ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
  readonly identityFiles?: readonly string[];
  readonly passphrase?: string;
  /**
   * Asked for the passphrase of a key that needs one (an interactive prompt), when the ssh-agent and the
   * keys without one were refused or there are none, as ssh asks. `again`: the last answer was wrong. An
   * empty answer skips the key. Without it, such a key is refused with a word about ssh-add.
   */
  readonly askPassphrase?: (keyFile: string, again: boolean) => Promise<string>;
  /** ssh-agent socket; default $SSH_AUTH_SOCK; false for none. */
  readonly agent?: string | false;
  /** Default ~/.ssh/known_hosts. */
  readonly knownHostsFile?: string;
  /** Trust a host that known_hosts does not list yet, and remember its key there. A changed key is never accepted. */
  readonly acceptNewHostKey?: boolean;
  /** Asked about a host known_hosts does not list (an interactive prompt); resolving true trusts and remembers it. */
  readonly confirmNewHostKey?: (host: string, fingerprint: string) => Promise<boolean>;
  readonly connectTimeoutMs?: number;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02 §7) the backend tells apart. */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
const OP_UNSUPPORTED = 8;

/** Requests in flight per transfer: enough to keep a long link busy, few enough to be fair to other transfers. */
const PIPELINE = 32;
const CHUNK = 32 * 1024;
const TEMP_PREFIX = '.tmp-';
/** Tries at a key's passphrase, as ssh gives. */
const PASSPHRASE_TRIES = 3;

/** The ways to log in that are ready, and the key files that need a passphrase first. */
interface AuthMethods {
  readonly list: (AgentAuthMethod | PublicKeyAuthMethod)[];
  /** What the list offers, for the message when all of it is refused. */
  readonly tried: string[];
  readonly locked: string[];
}

interface Session {
  readonly client: SshClient;
  readonly sftp: SFTPWrapper;
  /**
   * Runs one SFTP request. When the connection drops, every request still
   * waiting, and every later one, fails at once: ssh2 can leave a request
   * made on a dead channel unanswered forever.
   */
  call<T>(start: (callback: (err: Error | null | undefined, value: T) => void) => void): Promise<T>;
  /** Settles when the connection has closed, however it closed. */
  readonly ended: Promise<void>;
}

/**
 * A repository on an SSH server, through SFTP (ssh2, pure JavaScript). One
 * connection carries every request; requests are pipelined, so transfers
 * run concurrently over it. Writes go to a temporary name, are fsync'd
 * where the server offers fsync@openssh.com, and are renamed into place
 * with posix-rename@openssh.com, which replaces atomically. The server's
 * host key must be in known_hosts or be accepted explicitly; it is never
 * trusted silently.
 */
export class SftpBackend implements Backend {
  readonly location: string;
  private readonly root: string;
  private session: Promise<Session> | undefined;
  private closed = false;
  /** Passphrases given at the prompt, by key file: a connection made again later does not ask again. */
  private readonly passphrases = new Map<string, string>();

  constructor(private readonly options: SftpOptions) {
    this.root = options.path.replace(/\/+$/, '') || '/';
    this.location = sftpLocationName(options);
  }

  async create(): Promise<void> {
    const session = await this.connect();
    if (await this.exists(session, this.pathOf({ type: 'config', name: 'config' }))) {
      throw new BackendError('E_ALREADY_EXISTS', `There is already a Hindsight repository at ${this.location}.`);
    }
    try {
      await this.makeFolders(session, this.root);
      for (const type of OBJECT_TYPES) if (type !== 'config') await this.makeFolder(session, posix.join(this.root, type));
      const shards = Array.from({ length: 256 }, (_, i) => posix.join(this.root, 'data', i.toString(16).padStart(2, '0')));
      await mapConcurrent(shards, PIPELINE, (folder) => this.makeFolder(session, folder));
    } catch (err) {
      throw this.translate(err, 'create the repository in');
    }
  }

  async *list(type: ObjectType): AsyncIterable<ObjectInfo> {
    if (type === 'config') {
      const info = await this.stat({ type, name: 'config' }).catch((err: unknown) => {
        if (err instanceof BackendError && err.code === 'E_NOT_FOUND') return undefined;
        throw err;
      });
      if (info) yield info;
      return;
    }
    const session = await this.connect();
    await this.assertRootExists(session);
    const folders =
      type === 'data'
        ? (await this.readFolder(session, posix.join(this.root, 'data')))
            .filter((entry) => entry.attrs.isDirectory() && /^[0-9a-f]{2}$/.test(entry.filename))
            .map((entry) => posix.join(this.root, 'data', entry.filename))
        : [posix.join(this.root, type)];
    for (const folder of folders) {
      for (const entry of await this.readFolder(session, folder)) {
        if (entry.attrs.isFile() && isValidObjectName(type, entry.filename)) yield { name: entry.filename, size: entry.attrs.size };
      }
    }
  }

  /**
   * The file and folder names right below `path` (relative to the location's folder; none when it does
   * not exist): how `hindsight server --storage sftp://…` finds the repositories it keeps there. Not part of `Backend`.
   */
  async entriesBelow(path: readonly string[]): Promise<{ files: string[]; folders: string[] }> {
    const session = await this.connect();
    const entries = await this.readFolder(session, posix.join(this.root, ...path));
    return {
      files: entries.filter((entry) => entry.attrs.isFile()).map((entry) => entry.filename),
      folders: entries.filter((entry) => entry.attrs.isDirectory()).map((entry) => entry.filename),
    };
  }

  async stat(handle: ObjectHandle): Promise<ObjectInfo> {
    const path = this.pathOf(handle);
    const session = await this.connect();
    try {
      const info = await session.call<Stats>((cb) => session.sftp.stat(path, cb));
      return { name: handle.name, size: info.size };
    } catch (err) {
      throw await this.translateWithRoot(session, err, 'read', handle);
    }
  }

  async read(handle: ObjectHandle, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(handle);
    const session = await this.connect();
    let file: Buffer | undefined;
    try {
      file = await session.call<Buffer>((cb) => session.sftp.open(path, 'r', cb));
      const opened = file;
      const size = (await session.call<Stats>((cb) => session.sftp.fstat(opened, cb))).size;
      const offset = range?.offset ?? 0;
      const length = range?.length ?? size - offset;
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new BackendError(
          'E_INVALID_RANGE',
          `Cannot read bytes ${offset}–${offset + length} of ${describe(handle)} at ${this.location}: the object has only ${size} bytes (it may be truncated).`,
        );
      }
      const buffer = Buffer.allocUnsafe(length);
      const chunks = Array.from({ length: Math.ceil(length / CHUNK) }, (_, i) => i * CHUNK);
      await mapConcurrent(chunks, PIPELINE, async (start) => {
        const end = Math.min(start + CHUNK, length);
        let done = start;
        while (done < end) {
          const got = await session.call<number>((cb) => session.sftp.read(opened, buffer, done, end - done, offset + done, cb));
          if (got === 0) throw new BackendError('E_INVALID_RANGE', `${describe(handle)} at ${this.location} became shorter while it was read.`);
          done += got;
        }
      });
      return buffer;
    } catch (err) {
      throw await this.translateWithRoot(session, err, 'read', handle);
    } finally {
      if (file) await this.closeHandle(session, file);
    }
  }

  async write(handle: ObjectHandle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const path = this.pathOf(handle);
    const folder = posix.dirname(path);
    const temp = posix.join(folder, TEMP_PREFIX + randomBytes(8).toString('hex'));
    const session = await this.connect();
    let file: Buffer | undefined;
    try {
      try {
        file = await session.call<Buffer>((cb) => session.sftp.open(temp, 'wx', { mode: 0o600 }, cb));
      } catch (err) {
        if (sftpCode(err) !== NO_SUCH_FILE) throw err;
        await this.assertRootExists(session);
        await this.makeFolders(session, folder);
        file = await session.call<Buffer>((cb) => session.sftp.open(temp, 'wx', { mode: 0o600 }, cb));
      }
      const opened = file;
      const pieces: { part: Buffer; position: number }[] = [];
      let position = 0;
      // Indexing (rather than for-of) lets a caller's array-like fail part-way, as a dropped upload would.
      const parts = (Array.isArray(data) ? data : [data]) as readonly Uint8Array[];
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i] as Uint8Array;
        const bytes = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
        for (let start = 0; start < bytes.length; start += CHUNK) {
          pieces.push({ part: bytes.subarray(start, start + CHUNK), position: position + start });
        }
        position += bytes.length;
      }
      await mapConcurrent(pieces, PIPELINE, ({ part, position: at }) => session.call<void>((cb) => session.sftp.write(opened, part, 0, part.length, at, cb)));
      await session.call<void>((cb) => session.sftp.ext_openssh_fsync(opened, cb)).catch((err: unknown) => {
        // Servers without fsync@openssh.com still flush on close; nothing more can be asked of them.
        if (!isUnsupported(err)) throw err;
      });
      file = undefined;
      await session.call<void>((cb) => session.sftp.close(opened, cb));
      await this.renameIntoPlace(session, temp, path);
    } catch (err) {
      if (file) await this.closeHandle(session, file);
      await session.call<void>((cb) => session.sftp.unlink(temp, cb)).catch(() => undefined);
      throw await this.translateWithRoot(session, err, 'write to', handle);
    }
  }

  async delete(handle: ObjectHandle): Promise<void> {
    const path = this.pathOf(handle);
    const session = await this.connect();
    try {
      await session.call<void>((cb) => session.sftp.unlink(path, cb));
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) return;
      throw this.translate(err, 'delete from', handle);
    }
  }

  async sweepTemporaryFiles(dryRun: boolean): Promise<TemporaryFiles> {
    const session = await this.connect();
    await this.assertRootExists(session);
    // Not locks/: a process taking a lock writes there without holding one.
    const dataFolders = (await this.readFolder(session, posix.join(this.root, 'data')))
      .filter((entry) => entry.attrs.isDirectory())
      .map((entry) => posix.join(this.root, 'data', entry.filename));
    let files = 0;
    let bytes = 0;
    for (const folder of [...dataFolders, posix.join(this.root, 'index'), posix.join(this.root, 'snapshots')]) {
      for (const entry of await this.readFolder(session, folder)) {
        if (!entry.attrs.isFile() || !entry.filename.startsWith(TEMP_PREFIX)) continue;
        if (!dryRun) {
          try {
            await session.call<void>((cb) => session.sftp.unlink(posix.join(folder, entry.filename), cb));
          } catch (err) {
            if (sftpCode(err) === NO_SUCH_FILE) continue;
            throw this.translate(err, 'delete an unfinished write from');
          }
        }
        files += 1;
        bytes += entry.attrs.size;
      }
    }
    return { files, bytes };
  }

  async close(): Promise<void> {
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    const open = await session.catch(() => undefined);
    if (!open) return;
    open.client.end();
    await open.ended;
  }

  private async renameIntoPlace(session: Session, temp: string, path: string): Promise<void> {
    try {
      await session.call<void>((cb) => session.sftp.ext_openssh_rename(temp, path, cb));
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      // Plain SFTP rename refuses to replace; objects are content-named, so an existing one is already right.
      if (await this.exists(session, path)) {
        if (posix.basename(path) !== 'config') {
          await session.call<void>((cb) => session.sftp.unlink(temp, cb));
          return;
        }
        await session.call<void>((cb) => session.sftp.unlink(path, cb));
      }
      await session.call<void>((cb) => session.sftp.rename(temp, path, cb));
    }
  }

  /** The shared connection, opened on first use and again after it drops. */
  private connect(): Promise<Session> {
    if (this.closed) return Promise.reject(new BackendError('E_IO', `The connection to ${this.location} was closed.`));
    if (!this.session) {
      const session = this.open();
      this.session = session;
      session.then(
        ({ client }) => {
          const forget = () => {
            if (this.session === session) this.session = undefined;
          };
          client.once('close', forget);
          client.once('end', forget);
        },
        () => {
          if (this.session === session) this.session = undefined;
        },
      );
    }
    return this.session;
  }

  /**
   * Logs in as ssh does: with the ssh-agent and the keys that need no passphrase first; only if they are
   * refused (or there are none) is the passphrase of a locked key asked for, and the login tried again
   * with it. Asking between two connections, not during one, keeps the person typing clear of the
   * connection's timeout.
   */
  private async open(): Promise<Session> {
    const methods = await this.authMethods();
    const ask = this.options.askPassphrase;
    let refused: unknown;
    if (methods.list.length > 0) {
      try {
        return await this.login(methods);
      } catch (err) {
        if (!ask || methods.locked.length === 0 || !(err instanceof BackendError && err.code === 'E_AUTH')) throw err;
        refused = err;
      }
    }
    if (ask) {
      const unlocked = await this.unlockKeys(methods.locked, ask);
      if (unlocked.list.length > 0) return this.login(unlocked);
    }
    throw refused ?? this.noKeyError(methods.locked);
  }

  private async login(methods: AuthMethods): Promise<Session> {
    const { host, username } = this.options;
    const port = this.options.port ?? 22;
    const knownHosts = this.options.knownHostsFile ?? posix.join(homedir(), '.ssh', 'known_hosts');
    let hostKeyProblem: BackendError | undefined;
    const client = new Client();
    return new Promise<Session>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(hostKeyProblem ?? this.translateConnectError(err, methods));
      };
      client.once('ready', () => {
        // SFTP is many small request/answer pairs: Nagle's algorithm would hold each one back for the other side's delayed ACK (~40 ms).
        client.setNoDelay(true);
        client.sftp((err, sftp) => {
          if (err) return fail(err);
          settled = true;
          const ended = new Promise<void>((done) => client.once('close', () => done()));
          resolve({ client, sftp, call: guard(client, `The connection to ${host} was lost.`), ended });
        });
      });
      // Kept for the client's whole life (fail ignores all but the first): a refused host key can be followed by a late ECONNRESET.
      client.on('error', fail);
      client.once('close', () => fail(new BackendError('E_UNREACHABLE', `${host} closed the connection during login.`, { transient: true })));
      client.connect({
        host,
        port,
        username,
        readyTimeout: this.options.connectTimeoutMs ?? 20_000,
        keepaliveInterval: 15_000,
        authHandler: methods.list,
        hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
          this.checkHostKey(knownHosts, host, port, key).then(
            () => verify(true),
            (err: unknown) => {
              hostKeyProblem = err instanceof BackendError ? err : new BackendError('E_HOST_KEY', `Cannot check the host key of ${host}: ${(err as Error).message}`);
              verify(false);
            },
          );
        },
      });
    });
  }

  private async checkHostKey(knownHosts: string, host: string, port: number, key: Buffer): Promise<void> {
    const verdict = await verifyHostKey(knownHosts, host, port, key);
    if (verdict === 'known') return;
    const print = fingerprint(key);
    if (verdict === 'changed') {
      throw new BackendError(
        'E_HOST_KEY',
        `The host key of ${host} port ${port} is not the one recorded in ${knownHosts} (it now offers ${keyType(key)} ${print}). ` +
          'Someone may be intercepting the connection, or the server was reinstalled. Hindsight will not connect; if the change is expected, remove the old line from known_hosts (ssh-keygen -R) and connect again.',
      );
    }
    const accepted = this.options.acceptNewHostKey || ((await this.options.confirmNewHostKey?.(`${host} port ${port}`, `${keyType(key)} ${print}`)) ?? false);
    if (!accepted) {
      throw new BackendError(
        'E_HOST_KEY',
        `The host ${host} port ${port} is not in ${knownHosts}, so Hindsight cannot tell it is the right server. Its key is ${keyType(key)} ${print}. ` +
          'Check that fingerprint with the server\'s administrator, then run again with --accept-new-host-key (or connect once with ssh).',
      );
    }
    await rememberHostKey(knownHosts, host, port, key);
  }

  private async authMethods(): Promise<AuthMethods> {
    const { username } = this.options;
    const list: (AgentAuthMethod | PublicKeyAuthMethod)[] = [];
    const tried: string[] = [];
    const agent = this.options.agent === undefined ? process.env.SSH_AUTH_SOCK : this.options.agent;
    if (agent) {
      list.push({ type: 'agent', username, agent });
      tried.push('the ssh-agent');
    }
    const explicit = this.options.identityFiles;
    const candidates = explicit ?? ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => posix.join(homedir(), '.ssh', name));
    /** Keys a passphrase protects and none was given for: asked for, or the user hears about ssh-add. */
    const locked: string[] = [];
    for (const file of candidates) {
      let text: Buffer;
      try {
        text = await readFile(file);
      } catch (err) {
        if (explicit) throw new BackendError('E_AUTH', `Cannot read the SSH key ${file}: ${(err as Error).message}`);
        continue;
      }
      const passphrase = this.passphrases.get(file) ?? this.options.passphrase;
      const parsed = utils.parseKey(text, passphrase);
      if (parsed instanceof Error) {
        if (passphrase === undefined && isLockedKey(parsed)) locked.push(file);
        else if (explicit) throw new BackendError('E_AUTH', `Cannot use the SSH key ${file} (${parsed.message}).`);
        continue;
      }
      list.push({ type: 'publickey', username, key: text, ...(passphrase === undefined ? {} : { passphrase }) });
      tried.push(file);
    }
    return { list, tried, locked };
  }

  /** Asks for the passphrases of `files` in turn, up to PASSPHRASE_TRIES each; an empty answer skips a key. */
  private async unlockKeys(files: readonly string[], ask: (keyFile: string, again: boolean) => Promise<string>): Promise<AuthMethods> {
    const list: PublicKeyAuthMethod[] = [];
    const tried: string[] = [];
    for (const file of files) {
      const text = await readFile(file);
      for (let attempt = 0; ; attempt++) {
        if (attempt === PASSPHRASE_TRIES) throw new BackendError('E_AUTH', `Wrong passphrase for the SSH key ${file} (${PASSPHRASE_TRIES} tries).`);
        const passphrase = await ask(file, attempt > 0);
        if (passphrase === '') break;
        if (utils.parseKey(text, passphrase) instanceof Error) continue;
        this.passphrases.set(file, passphrase);
        list.push({ type: 'publickey', username: this.options.username, key: text, passphrase });
        tried.push(file);
        break;
      }
    }
    return { list, tried, locked: [] };
  }

  /** Nothing to log in with: no agent, and no key without a passphrase (nor one unlocked at the prompt). */
  private noKeyError(locked: readonly string[]): BackendError {
    const { host } = this.options;
    const terminal = this.options.askPassphrase ? '' : ', or run Hindsight in a terminal to be asked for the passphrase';
    if (this.options.identityFiles && locked.length > 0) {
      const file = locked[0] as string;
      return new BackendError('E_AUTH', `Cannot use the SSH key ${file}: it is protected by a passphrase. Start ssh-agent and run "ssh-add ${file}" first${terminal}.`);
    }
    return new BackendError(
      'E_AUTH',
      locked.length > 0
        ? `No SSH key to log in to ${host} with: ${locked.join(', ')} ${locked.length === 1 ? 'is' : 'are'} protected by a passphrase and no ssh-agent is running. Start ssh-agent and run "ssh-add ${locked[0] as string}", then try again${terminal}.`
        : `No SSH key to log in to ${host} with: no ssh-agent is running and there is no usable ~/.ssh/id_ed25519, id_ecdsa or id_rsa. Give one with --ssh-key FILE.`,
    );
  }

  private translateConnectError(err: unknown, { tried, locked }: AuthMethods): BackendError {
    if (err instanceof BackendError) return err;
    const { host, username } = this.options;
    const port = this.options.port ?? 22;
    const e = err as Error & { level?: string; code?: string };
    if (e.level === 'client-authentication') {
      // Keys left out for want of a passphrase may be the ones the server knows.
      const lockedOut =
        locked.length > 0 && !this.options.askPassphrase
          ? ` ${locked.join(', ')} ${locked.length === 1 ? 'is' : 'are'} protected by a passphrase and not in the ssh-agent: run "ssh-add ${locked[0] as string}" to use ${locked.length === 1 ? 'it' : 'them'}.`
          : '';
      return new BackendError(
        'E_AUTH',
        `${host} refused to log in ${username} with ${tried.join(', ')}. Add the public key to ~/.ssh/authorized_keys of ${username} on the server, or give the right key with --ssh-key FILE.${lockedOut}`,
        { cause: err },
      );
    }
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
      return new BackendError('E_UNREACHABLE', `There is no host called "${host}" (the name does not resolve). Check the repository location.`, {
        cause: err,
        transient: e.code === 'EAI_AGAIN',
      });
    }
    if (e.code === 'ECONNREFUSED') {
      return new BackendError('E_UNREACHABLE', `${host} refused the connection on port ${port}: is the SSH server running, and is the port right?`, { cause: err, transient: true });
    }
    return new BackendError('E_UNREACHABLE', `Cannot connect to ${host} port ${port}: ${e.message}`, { cause: err, transient: true });
  }

  private pathOf(handle: ObjectHandle): string {
    return posix.join(this.root, objectPath(handle));
  }

  private async exists(session: Session, path: string): Promise<boolean> {
    try {
      await session.call<Stats>((cb) => session.sftp.stat(path, cb));
      return true;
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) return false;
      throw this.translate(err, 'read');
    }
  }

  private async makeFolder(session: Session, path: string): Promise<void> {
    try {
      await session.call<void>((cb) => session.sftp.mkdir(path, { mode: 0o700 }, cb));
    } catch (err) {
      // mkdir of an existing folder is a generic FAILURE in SFTP v3; only a folder that is still missing is an error.
      const info = await session.call<Stats>((cb) => session.sftp.stat(path, cb)).catch(() => undefined);
      if (!info?.isDirectory()) throw err;
    }
  }

  private async makeFolders(session: Session, path: string): Promise<void> {
    const absolute = path.startsWith('/');
    let current = absolute ? '/' : '';
    for (const segment of path.split('/').filter(Boolean)) {
      current = current === '' ? segment : posix.join(current, segment);
      await this.makeFolder(session, current);
    }
  }

  private async readFolder(session: Session, folder: string) {
    try {
      return await session.call<ssh2.FileEntryWithStats[]>((cb) => session.sftp.readdir(folder, cb));
    } catch (err) {
      if (sftpCode(err) === NO_SUCH_FILE) return [];
      throw this.translate(err, 'list');
    }
  }

  private async assertRootExists(session: Session): Promise<void> {
    const info = await session.call<Stats>((cb) => session.sftp.stat(this.root, cb)).catch((err: unknown) => {
      if (sftpCode(err) === NO_SUCH_FILE) return undefined;
      throw this.translate(err, 'read');
    });
    if (!info?.isDirectory()) {
      throw new BackendError('E_TARGET_MISSING', `The folder ${this.root} does not exist on ${this.options.host}${info ? ' (it is not a folder)' : ''}.`);
    }
  }

  private async closeHandle(session: Session, file: Buffer): Promise<void> {
    await session.call<void>((cb) => session.sftp.close(file, cb)).catch(() => undefined);
  }

  private async translateWithRoot(session: Session, err: unknown, action: string, handle?: ObjectHandle): Promise<BackendError> {
    if (sftpCode(err) === NO_SUCH_FILE) {
      try {
        await this.assertRootExists(session);
      } catch (missing) {
        if (missing instanceof BackendError) return missing;
      }
    }
    return this.translate(err, action, handle);
  }

  private translate(err: unknown, action: string, handle?: ObjectHandle): BackendError {
    if (err instanceof BackendError) return err;
    const what = handle ? `${describe(handle)} at ${this.location}` : this.location;
    switch (sftpCode(err)) {
      case NO_SUCH_FILE:
        return new BackendError('E_NOT_FOUND', `${what} does not exist.`, { cause: err });
      case PERMISSION_DENIED:
        return new BackendError('E_PERMISSION', `Cannot ${action} ${what}: the server denied permission.`, { cause: err });
      case undefined:
        // No SFTP status: the request never got an answer because the connection dropped.
        return new BackendError('E_UNREACHABLE', `The connection to ${this.options.host} was lost while trying to ${action} ${what}: ${(err as Error).message}`, {
          cause: err,
          transient: true,
        });
      default:
        return new BackendError('E_IO', `Cannot ${action} ${what}: ${(err as Error).message}`, { cause: err, transient: true });
    }
  }
}

function describe(handle: ObjectHandle): string {
  return handle.type === 'config' ? 'config' : `${handle.type}/${handle.name}`;
}

function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function isUnsupported(err: unknown): boolean {
  return sftpCode(err) === OP_UNSUPPORTED || /does not support/i.test((err as Error | undefined)?.message ?? '');
}

/** Makes the `call` of a session: a request promise that also fails when `client` closes. */
function guard(client: SshClient, lostMessage: string): Session['call'] {
  let lost: BackendError | undefined;
  const waiting = new Set<(err: unknown) => void>();
  client.once('close', () => {
    lost = new BackendError('E_UNREACHABLE', lostMessage, { transient: true });
    for (const reject of waiting) reject(lost);
    waiting.clear();
  });
  return <T>(start: (callback: (err: Error | null | undefined, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      if (lost) return reject(lost);
      waiting.add(reject);
      try {
        start((err, value) => {
          waiting.delete(reject);
          if (err) reject(err);
          else resolve(value);
        });
      } catch (err) {
        waiting.delete(reject);
        reject(err);
      }
    });
}

/** ssh2's answer for an encrypted key parsed without a passphrase ("Encrypted … key detected, but no passphrase given"). */
function isLockedKey(err: Error): boolean {
  return /no passphrase given/.test(err.message);
}
