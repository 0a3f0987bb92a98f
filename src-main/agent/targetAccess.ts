import type { Warning } from '../../src-shared/progress.js';
import type { TargetSettings } from '../../src-shared/plan.js';
import { parseLocation, type TargetOptions } from '../engine/backend/location.js';
import type { AgentDatabase } from './agentDatabase.js';
import { KeychainUnavailable, type SecretStore } from './secretStore.js';

interface Credentials {
  readonly username?: string;
  readonly password?: string;
}

/** The keychain account of a target's credentials: beside the repositories' (accounts are repository ids). */
const account = (location: string) => `target:${location}`;

/**
 * What the agent needs to reach a target beyond its location: the settings kept for it (a CA certificate,
 * the rclone program) and, for a rest: location written with a user name and password, those credentials,
 * kept where repository passwords are (the keychain, and this session). The location the agent stores,
 * shows and records has no credentials in it.
 */
export class TargetAccess {
  constructor(
    private readonly db: AgentDatabase,
    private readonly keychain: SecretStore,
    private readonly session: SecretStore,
    private readonly warn: (warning: Warning) => void,
  ) {}

  /**
   * Takes a location as a caller gave it: credentials in it are kept apart, `settings` (when given) kept
   * for it. Returns the location to store and use from then on.
   */
  async adopt(location: string, settings?: TargetSettings): Promise<string> {
    const { bare, credentials } = splitCredentials(location);
    if (credentials) await this.remember(bare, credentials);
    if (settings) this.db.setTargetSettings(bare, settings);
    return bare;
  }

  /** The options that reach `location` (a location as stored: without credentials). */
  async options(location: string): Promise<TargetOptions> {
    const settings = this.db.targetSettings(location) ?? {};
    const credentials = parseLocation(location).kind === 'rest' ? await this.credentials(location) : undefined;
    return {
      ...(settings.restCaCert ? { restCaCert: settings.restCaCert } : {}),
      ...(settings.rcloneProgram ? { rcloneProgram: settings.rcloneProgram } : {}),
      ...(settings.rcloneArgs ? { rcloneArgs: settings.rcloneArgs } : {}),
      ...(credentials ? { restCredentials: credentials } : {}),
    };
  }

  private async remember(location: string, credentials: Credentials): Promise<void> {
    const secret = JSON.stringify(credentials);
    await this.session.set(account(location), secret);
    try {
      await this.keychain.set(account(location), secret);
    } catch (err) {
      if (!(err instanceof KeychainUnavailable)) throw err;
      this.warn({ path: location, message: `the user name and password of this target are kept for this session only: ${err.message}` });
    }
  }

  /** Session first (no keychain prompt), then the keychain; undefined when neither has them. */
  private async credentials(location: string): Promise<Credentials | undefined> {
    let secret = await this.session.get(account(location));
    if (secret === undefined) {
      try {
        secret = await this.keychain.get(account(location));
      } catch (err) {
        if (!(err instanceof KeychainUnavailable)) throw err;
      }
      if (secret !== undefined) await this.session.set(account(location), secret);
    }
    return secret === undefined ? undefined : (JSON.parse(secret) as Credentials);
  }
}

/** A rest: location without the user name and password written in it, and those apart; any other location as it is. */
export function splitCredentials(location: string): { bare: string; credentials?: Credentials } {
  let parsed;
  try {
    parsed = parseLocation(location);
  } catch {
    // Not a location: whoever uses it reports that.
    return { bare: location };
  }
  if (parsed.kind !== 'rest' || (parsed.username === undefined && parsed.password === undefined)) return { bare: location };
  return {
    bare: `rest:${parsed.url}`,
    credentials: { ...(parsed.username !== undefined ? { username: parsed.username } : {}), ...(parsed.password !== undefined ? { password: parsed.password } : {}) },
  };
}
