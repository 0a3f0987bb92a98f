import { HindsightError } from '../../src-shared/errors.js';
import type { Warning } from '../../src-shared/progress.js';
import type { TargetSecrets, TargetSettings } from '../../src-shared/plan.js';
import { normalizeFingerprint } from '../engine/backend/certificateFingerprint.js';
import { parseLocation, type TargetOptions } from '../engine/backend/location.js';
import type { AgentDatabase } from './agentDatabase.js';
import { KeychainUnavailable, type SecretStore } from './secretStore.js';

/** A target's secrets as the keychain keeps them: a rest: location's user name and password, or an Azure account's key or SAS token. */
interface Credentials extends TargetSecrets {
  readonly username?: string;
  readonly password?: string;
}

/** The keychain account of a target's credentials: beside the repositories' (accounts are repository ids). */
const account = (location: string) => `target:${location}`;

/**
 * What the agent needs to reach a target beyond its location: the settings kept for it (a CA certificate
 * or a pinned certificate fingerprint, SSH key files, an S3 region, the rclone program, an Azure endpoint)
 * and its secrets (a rest: location's user name and password written in it, an Azure account's key or SAS
 * token given with its settings), kept where repository passwords are (the keychain, and this session). The location and settings the agent stores, shows and records hold no secret.
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
    const given: TargetSettings = settings ?? {};
    const { azureKey, azureSasToken, ...kept } = given;
    if (azureKey !== undefined || azureSasToken !== undefined) {
      checkAzureSecret(bare, azureKey, azureSasToken);
      await this.remember(bare, azureKey !== undefined ? { azureKey } : { azureSasToken });
    }
    if (credentials) await this.remember(bare, credentials);
    if (settings) this.db.setTargetSettings(bare, kept.restFingerprint ? { ...kept, restFingerprint: `SHA256:${normalizeFingerprint(kept.restFingerprint)}` } : kept);
    return bare;
  }

  /** The options that reach `location` (a location as stored: without credentials). */
  async options(location: string): Promise<TargetOptions> {
    const settings = this.db.targetSettings(location) ?? {};
    const kind = parseLocation(location).kind;
    const secrets: Credentials = (kind === 'rest' || kind === 'azure' ? await this.credentials(location) : undefined) ?? {};
    const { username, password, azureKey, azureSasToken } = secrets;
    const azureSecret = azureKey !== undefined ? { key: azureKey } : azureSasToken !== undefined ? { sasToken: azureSasToken } : undefined;
    return {
      ...(settings.restCaCert ? { restCaCert: settings.restCaCert } : {}),
      ...(settings.restFingerprint ? { restFingerprint: settings.restFingerprint } : {}),
      ...(settings.sshKeys && settings.sshKeys.length > 0 ? { sshKeys: settings.sshKeys } : {}),
      ...(settings.knownHosts ? { knownHostsFile: settings.knownHosts } : {}),
      ...(settings.s3Region ? { s3Region: settings.s3Region } : {}),
      ...(settings.s3VirtualHosted ? { s3VirtualHosted: true } : {}),
      ...(settings.rcloneProgram ? { rcloneProgram: settings.rcloneProgram } : {}),
      ...(settings.rcloneArgs ? { rcloneArgs: settings.rcloneArgs } : {}),
      ...(settings.azureEndpoint ? { azureEndpoint: settings.azureEndpoint } : {}),
      ...(kind === 'rest' && (username !== undefined || password !== undefined) ? { restCredentials: { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) } } : {}),
      ...(kind === 'azure' && azureSecret ? { azureSecret } : {}),
    };
  }

  private async remember(location: string, credentials: Credentials): Promise<void> {
    const secret = JSON.stringify(credentials);
    await this.session.set(account(location), secret);
    try {
      await this.keychain.set(account(location), secret);
    } catch (err) {
      if (!(err instanceof KeychainUnavailable)) throw err;
      const what = credentials.azureKey !== undefined ? 'access key' : credentials.azureSasToken !== undefined ? 'SAS token' : 'user name and password';
      this.warn({ path: location, message: `the ${what} of this target ${what.includes(' and ') ? 'are' : 'is'} kept for this session only: ${err.message}` });
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

/** An Azure key or SAS token is for an azure://ACCOUNT/… location (the account it signs for), one of the two. */
function checkAzureSecret(location: string, key: string | undefined, sasToken: string | undefined): void {
  let parsed;
  try {
    parsed = parseLocation(location);
  } catch {
    // Not a location: whoever uses it reports that.
    return;
  }
  if (parsed.kind !== 'azure') throw new HindsightError('E_INVALID_PARAMS', `An Azure access key or SAS token is for an azure:// location, not ${location}.`);
  if (parsed.account === undefined) throw new HindsightError('E_INVALID_PARAMS', `An access key or SAS token is for the storage account it belongs to: write azure://ACCOUNT/${parsed.container}${parsed.prefix ? `/${parsed.prefix}` : ''} rather than ${location}.`);
  if (key !== undefined && sasToken !== undefined) throw new HindsightError('E_INVALID_PARAMS', `Give ${location} an access key or a SAS token, not both.`);
}
