import { KeychainUnavailable, type SecretStore } from './secretStore.js';
import type { AgentPort, SecretReply, SecretRequest } from './transport/agentPort.js';

/** Long enough for a person to answer the OS keychain's unlock prompt. */
const REPLY_TIMEOUT_MS = 120_000;

/**
 * The keychain as seen from the agent in Electron's utility process: keytar
 * runs in the main process (one native keychain client per app, and the
 * prompts belong to the app), so every get/set/delete is a request over the
 * port. A keychain the main process cannot use is `KeychainUnavailable` here,
 * so the agent falls back to the session exactly as with keytar in-process.
 */
export class PortSecretStore implements SecretStore {
  readonly description = 'system keychain (through the desktop app)';
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: string | undefined) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly port: AgentPort) {
    port.on('close', () => this.failAll('the desktop app closed the connection'));
  }

  get(account: string): Promise<string | undefined> {
    return this.ask({ op: 'get', account });
  }

  async set(account: string, secret: string): Promise<void> {
    await this.ask({ op: 'set', account, secret });
  }

  async delete(account: string): Promise<void> {
    await this.ask({ op: 'delete', account });
  }

  /** Called by the port transport for every `secret.reply`. */
  receive(reply: SecretReply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    clearTimeout(waiter.timer);
    if (reply.ok) waiter.resolve(reply.value);
    else waiter.reject(new KeychainUnavailable(reply.message));
  }

  private ask(request: Pick<SecretRequest, 'op' | 'account' | 'secret'>): Promise<string | undefined> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new KeychainUnavailable('the desktop app did not answer'));
      }, REPLY_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(id, { resolve, reject, timer });
      this.port.postMessage({ type: 'secret', id, ...request } satisfies SecretRequest);
    });
  }

  private failAll(detail: string): void {
    for (const { reject, timer } of this.waiting.values()) {
      clearTimeout(timer);
      reject(new KeychainUnavailable(detail));
    }
    this.waiting.clear();
  }
}
