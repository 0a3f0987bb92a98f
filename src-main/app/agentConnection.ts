import * as v from 'valibot';
import type { AgentEvent, Method, Params, Result } from '../../src-shared/api.js';
import { CallTable } from '../../src-shared/callTable.js';
import type { HindsightClient } from '../../src-shared/client.js';
import { HindsightError } from '../../src-shared/errors.js';
import { KeychainUnavailable, type SecretStore } from '../agent/secretStore.js';
import type { AgentNotice, AgentPort, SecretReply } from '../agent/transport/agentPort.js';
import { AgentCallError } from '../agent/transport/agentClient.js';

const SecretRequestSchema = v.strictObject({
  type: v.literal('secret'),
  id: v.pipe(v.number(), v.integer()),
  op: v.picklist(['get', 'set', 'delete']),
  account: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  secret: v.optional(v.string()),
});

/**
 * The main process's end of the agent's port: a client of the contract (the
 * IPC bridge, the tray and drag-to-restore call through it) and the keychain
 * the agent asks for passwords. Lifecycle notices (ready, fatal, stopped) go
 * to `onNotice`.
 */
export class AgentConnection implements Pick<HindsightClient, 'call' | 'onEvent'> {
  private readonly calls = new CallTable((body) => new AgentCallError(body));
  private closed = false;

  constructor(
    private readonly port: AgentPort,
    private readonly keychain: SecretStore,
    private readonly onNotice: (notice: Exclude<AgentNotice, { type: 'secret' }>) => void,
  ) {
    port.on('message', ({ data }) => this.receive(data));
    port.on('close', () => this.close());
    port.start();
  }

  call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    return this.request(method, params) as Promise<Result<M>>;
  }

  /** A call whose method and parameters were checked elsewhere (the IPC bridge). */
  request(method: Method, params: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new HindsightError('E_AGENT_GONE', 'The backup agent is not running.'));
    const { message, answer } = this.calls.request(method, params);
    this.port.postMessage(message);
    return answer;
  }

  onEvent(listener: (event: AgentEvent) => void): () => void {
    return this.calls.onEvent(listener);
  }

  /** Asks the agent to stop at a safe point; it exits afterwards. */
  shutdown(): void {
    if (!this.closed) this.port.postMessage({ type: 'shutdown' });
  }

  /** The agent is gone: every call still waiting fails. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.calls.failAll(new HindsightError('E_AGENT_GONE', 'The backup agent stopped before it answered.'));
    this.port.close();
  }

  private receive(data: unknown): void {
    if (this.calls.receive(data)) return;
    const message = data as AgentNotice | undefined;
    switch (message?.type) {
      case 'secret':
        void this.answerSecret(data);
        return;
      case 'ready':
      case 'fatal':
      case 'stopped':
        this.onNotice(message);
        return;
    }
  }

  private async answerSecret(data: unknown): Promise<void> {
    const parsed = v.safeParse(SecretRequestSchema, data);
    if (!parsed.success) return;
    const { id, op, account, secret } = parsed.output;
    let reply: SecretReply;
    try {
      if (op === 'get') reply = { type: 'secret.reply', id, ok: true, ...withValue(await this.keychain.get(account)) };
      else {
        if (op === 'set') {
          if (secret === undefined) throw new KeychainUnavailable('the agent asked to store nothing');
          await this.keychain.set(account, secret);
        } else await this.keychain.delete(account);
        reply = { type: 'secret.reply', id, ok: true };
      }
    } catch (err) {
      reply = { type: 'secret.reply', id, ok: false, message: err instanceof KeychainUnavailable ? err.detail : 'the keychain failed' };
    }
    if (!this.closed) this.port.postMessage(reply);
  }
}

function withValue(value: string | undefined): { value?: string } {
  return value === undefined ? {} : { value };
}
