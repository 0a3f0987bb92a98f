import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, jwtVerify } from 'jose';
import { writeFileDurably } from './durableFile.js';
import { serverStateFolder } from './serverState.js';
import type { ServerUser, UserDirectory } from './userFile.js';

const ISSUER = 'hindsight-server';
/** Short-lived: a token that leaks is good for this long, and a client logs in again after it. */
export const TOKEN_LIFETIME_SECONDS = 15 * 60;

/**
 * Access tokens for `POST /login`: JWTs signed (HS256) with a key the server makes at first start and
 * keeps in DIR/.hindsight-server/token-key (mode 0600). A token names its user and a fingerprint of the
 * user's password hash, so changing the password or removing the user ends every token given before.
 */
export class AccessTokens {
  private constructor(
    private readonly key: Uint8Array,
    private readonly users: UserDirectory,
  ) {}

  static async open(data: string, users: UserDirectory): Promise<AccessTokens> {
    const file = join(serverStateFolder(data), 'token-key');
    let key = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!key || key.length < 32) {
      key = randomBytes(32);
      await mkdir(serverStateFolder(data), { recursive: true, mode: 0o700 });
      await writeFileDurably(file, key);
    }
    return new AccessTokens(new Uint8Array(key), users);
  }

  async issue(user: ServerUser): Promise<{ token: string; expires: Date }> {
    const expires = new Date(Date.now() + TOKEN_LIFETIME_SECONDS * 1000);
    const token = await new SignJWT({ pwd: passwordFingerprint(user) })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setSubject(user.name)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expires.getTime() / 1000))
      .sign(this.key);
    return { token, expires };
  }

  /** The user a token is good for; undefined when it is tampered with, expired, or its user or password changed. */
  async verify(token: string): Promise<ServerUser | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ['HS256'] });
      const user = payload.sub === undefined ? undefined : await this.users.find(payload.sub);
      return user && payload.pwd === passwordFingerprint(user) ? user : undefined;
    } catch {
      return undefined;
    }
  }
}

function passwordFingerprint(user: ServerUser): string {
  return createHash('sha256').update(user.passwordHash).digest('base64url').slice(0, 22);
}
