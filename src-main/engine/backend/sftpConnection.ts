import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { Socket } from 'node:net';
import { posix } from 'node:path';
import ssh2, { type AgentAuthMethod, type Client as SshClient, type PublicKeyAuthMethod, type SFTPWrapper } from 'ssh2';
import { BackendError } from './backend.js';
import { fingerprint, keyType, rememberHostKey, verifyHostKey } from './knownHosts.js';

const { Client, utils } = ssh2;

export interface SftpConnectionOptions {
  readonly host: string;
  readonly port?: number;
  readonly username: string;
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

/** Tries at a key's passphrase, as ssh gives. */
const PASSPHRASE_TRIES = 3;

/** The ways to log in that are ready, and the key files that need a passphrase first. */
interface AuthMethods {
  readonly list: (AgentAuthMethod | PublicKeyAuthMethod)[];
  /** What the list offers, for the message when all of it is refused. */
  readonly tried: string[];
  readonly locked: string[];
}

export interface SftpSession {
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
 * One SSH connection carrying an SFTP session, as both the SFTP backend (a repository on a server) and
 * the SFTP source (a folder backed up from a server) use it: logged in with the ssh-agent and key files
 * as ssh does (a passphrase asked for only when needed), the server's host key checked against
 * known_hosts (an unknown one refused unless accepted, a changed one always), opened on first use and
 * again after it drops.
 */
export class SftpConnection {
  private session: Promise<SftpSession> | undefined;
  private closed = false;
  /** Passphrases given at the prompt, by key file: a connection made again later does not ask again. */
  private readonly passphrases = new Map<string, string>();

  /** `location`: how messages name what is reached through it. */
  constructor(
    private readonly options: SftpConnectionOptions,
    private readonly location: string,
  ) {}

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

  /** The shared connection, opened on first use and again after it drops. */
  connect(): Promise<SftpSession> {
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
  private async open(): Promise<SftpSession> {
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

  private async login(methods: AuthMethods): Promise<SftpSession> {
    const { host, username } = this.options;
    const port = this.options.port ?? 22;
    const knownHosts = this.options.knownHostsFile ?? posix.join(homedir(), '.ssh', 'known_hosts');
    let hostKeyProblem: BackendError | undefined;
    const client = new Client();
    return new Promise<SftpSession>((resolve, reject) => {
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
}

/** Makes the `call` of a session: a request promise that also fails when `client` closes. */
function guard(client: SshClient, lostMessage: string): SftpSession['call'] {
  let lost: BackendError | undefined;
  const waiting = new Set<(err: unknown) => void>();
  client.once('close', () => {
    lost = new BackendError('E_UNREACHABLE', lostMessage, { transient: true });
    for (const reject of waiting) reject(lost);
    waiting.clear();
  });
  const gather = writeGatherer(client);
  return <T>(start: (callback: (err: Error | null | undefined, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      if (lost) return reject(lost);
      waiting.add(reject);
      gather();
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

/**
 * Returns a function that gathers the packets written until the end of this turn of the event loop into
 * one write. ssh2 writes every SSH packet (each SFTP request is one) to its socket on its own, one system
 * call each: a backup of 5,000 small files over SFTP spent 2.4 of its 11.7 CPU-seconds in them, and the
 * requests of one turn (many files' opens and reads at once) can as well go out in one. The socket is
 * ssh2's own (`_sock`, not public): without it, requests go out as before.
 */
function writeGatherer(client: SshClient): () => void {
  let corked = false;
  return () => {
    const socket = (client as unknown as { _sock?: Socket })._sock;
    if (corked || !socket || typeof socket.cork !== 'function') return;
    corked = true;
    socket.cork();
    process.nextTick(() => {
      corked = false;
      socket.uncork();
    });
  };
}

/** ssh2's answer for an encrypted key parsed without a passphrase ("Encrypted … key detected, but no passphrase given"). */
function isLockedKey(err: Error): boolean {
  return /no passphrase given/.test(err.message);
}

/** The SFTP status code of a failed request (draft-ietf-secsh-filexfer-02 §7), if it has one. */
export function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
