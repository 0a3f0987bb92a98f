import { createHash, randomBytes } from 'node:crypto';
import type { AccessTokens } from './accessTokens.js';
import type { LoginLimiter } from './loginLimiter.js';
import { hashServerPassword, verifyServerPassword, type ServerUser, type UserDirectory } from './userFile.js';

export type Authentication =
  /** `withPassword`: logged in with the password itself (what POST /login asks for), not a token. */
  | { readonly user: ServerUser; readonly withPassword: boolean }
  | { readonly user?: undefined; readonly status: 401; readonly reason: string }
  | { readonly user?: undefined; readonly status: 429; readonly retryAfterSeconds: number };

/** How long a checked user name and password is taken without a new Argon2 check. */
const REMEMBER_MS = 10 * 60_000;
const REMEMBER_MAX = 10_000;

/**
 * Checks an Authorization header: HTTP basic (what restic, rclone and Hindsight send) or a Bearer
 * token from POST /login. Every failure
 * looks the same to the client (401): an unknown user costs the same Argon2 work as a wrong password.
 * A login that passed is remembered for a while under a keyed hash of user, password and stored hash
 * (never the password itself), since a backup makes thousands of requests and each would otherwise
 * cost an Argon2 check; changing the password changes the stored hash, which forgets it.
 */
export class Authenticator {
  private readonly remembered = new Map<string, number>();
  private readonly rememberKey = randomBytes(32);
  private readonly unknownUserHash: Promise<string>;

  constructor(
    private readonly users: UserDirectory,
    private readonly limiter: LoginLimiter,
    private readonly tokens: AccessTokens,
  ) {
    this.unknownUserHash = hashServerPassword(randomBytes(16).toString('hex'));
  }

  async authenticate(header: string | undefined, address: string): Promise<Authentication> {
    const wait = this.limiter.heldOff(address);
    if (wait > 0) return { status: 429, retryAfterSeconds: Math.ceil(wait / 1000) };
    const bearer = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header?.trim() ?? '')?.[1];
    if (bearer !== undefined) {
      const user = await this.tokens.verify(bearer);
      if (user) return { user, withPassword: false };
      this.limiter.failed(address);
      return { status: 401, reason: 'an access token that is expired, tampered with or no longer valid' };
    }
    const credentials = parseBasic(header);
    if (!credentials) return { status: 401, reason: header ? 'an Authorization header that is not HTTP basic' : 'no credentials' };
    const user = await this.users.find(credentials.name);
    const passwordHash = user?.passwordHash ?? (await this.unknownUserHash);
    const key = createHash('sha256').update(this.rememberKey).update(JSON.stringify([credentials.name, credentials.password, passwordHash])).digest('hex');
    const until = this.remembered.get(key);
    if (user && until !== undefined && until > Date.now()) return { user, withPassword: true };
    const good = (await verifyServerPassword(passwordHash, credentials.password)) && user !== undefined;
    if (!good) {
      this.limiter.failed(address);
      return { status: 401, reason: `a failed login as "${credentials.name.slice(0, 64)}"` };
    }
    if (this.remembered.size >= REMEMBER_MAX) this.remembered.clear();
    this.remembered.set(key, Date.now() + REMEMBER_MS);
    return { user, withPassword: true };
  }
}

function parseBasic(header: string | undefined): { name: string; password: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
