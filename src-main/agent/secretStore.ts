import { HindsightError } from '../../src-shared/errors.js';

/** Where repository passwords are kept, by account (the repository id). Never a file of our own. */
export interface SecretStore {
  readonly description: string;
  get(account: string): Promise<string | undefined>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<void>;
}

export const KEYCHAIN_SERVICE = 'Hindsight';

export class KeychainUnavailable extends HindsightError {
  constructor(
    /** Why, in a few words: the desktop app passes it on to its agent. */
    readonly detail: string,
    cause?: unknown,
  ) {
    super(
      'E_KEYCHAIN_UNAVAILABLE',
      `The system keychain cannot be used (${detail}). Enter the repository password for this session instead; it is kept in memory only.`,
      { cause },
    );
  }
}

/** The OS keychain through keytar: Keychain on macOS, Credential Vault on Windows, the Secret Service (GNOME Keyring, KWallet) on Linux. */
export class KeytarSecretStore implements SecretStore {
  readonly description = 'system keychain';
  private keytar: Promise<typeof import('keytar')> | undefined;

  private async api(): Promise<typeof import('keytar')> {
    this.keytar ??= import('keytar').then((m) => (m as unknown as { default: typeof import('keytar') }).default ?? m);
    try {
      return await this.keytar;
    } catch (err) {
      this.keytar = undefined;
      throw new KeychainUnavailable('its library could not be loaded', err);
    }
  }

  async get(account: string): Promise<string | undefined> {
    const keytar = await this.api();
    return (await this.call(() => keytar.getPassword(KEYCHAIN_SERVICE, account))) ?? undefined;
  }

  async set(account: string, secret: string): Promise<void> {
    const keytar = await this.api();
    await this.call(() => keytar.setPassword(KEYCHAIN_SERVICE, account, secret));
  }

  async delete(account: string): Promise<void> {
    const keytar = await this.api();
    await this.call(() => keytar.deletePassword(KEYCHAIN_SERVICE, account));
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      // keytar's messages come from libsecret/D-Bus ("Cannot autolaunch D-Bus without X11 $DISPLAY", …).
      throw new KeychainUnavailable((err as Error).message, err);
    }
  }
}

/** Passwords entered for this session only: memory, gone when the agent stops. */
export class SessionSecretStore implements SecretStore {
  readonly description = 'this session only';
  private readonly secrets = new Map<string, string>();

  get(account: string): Promise<string | undefined> {
    return Promise.resolve(this.secrets.get(account));
  }

  set(account: string, secret: string): Promise<void> {
    this.secrets.set(account, secret);
    return Promise.resolve();
  }

  delete(account: string): Promise<void> {
    this.secrets.delete(account);
    return Promise.resolve();
  }
}
