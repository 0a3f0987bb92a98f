import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type HostKeyVerdict = 'known' | 'unknown' | 'changed';

/** How OpenSSH names a host in known_hosts: the bare name on port 22, `[name]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The fingerprint OpenSSH prints for a key: `SHA256:` and the unpadded base64 of its SHA-256. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside an SSH public key blob (`ssh-ed25519`, `rsa-sha2-512`…). */
export function keyType(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString('latin1');
}

function matchesPattern(name: string, pattern: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [salt, hash] = pattern.slice(3).split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(name);
}

function hostMatches(name: string, field: string): boolean {
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (matchesPattern(name, pattern.slice(1))) return false;
    } else if (matchesPattern(name, pattern)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * Looks a server's key up in an OpenSSH known_hosts file (plain or hashed
 * host names, wildcards, negations; `@revoked` lines reject the key).
 * "changed" means the host is listed with other keys only: the warning sign
 * of a man in the middle, never to be accepted silently.
 */
export async function verifyHostKey(file: string, host: string, port: number, key: Buffer): Promise<HostKeyVerdict> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'unknown';
    throw err;
  }
  const name = knownHostsName(host, port);
  const encoded = key.toString('base64');
  let listed = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [hosts, , blob] = fields;
    if (!hosts || !blob || !hostMatches(name, hosts)) continue;
    if (marker === '@revoked') {
      if (blob === encoded) return 'changed';
      continue;
    }
    if (marker !== undefined) continue;
    listed = true;
    if (blob === encoded) return 'known';
  }
  return listed ? 'changed' : 'unknown';
}

/** Adds a host's key to known_hosts (creating the file and its folder, private to the user, when missing). */
export async function rememberHostKey(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readFile(file, 'utf8').catch(() => '');
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  await appendFile(file, `${separator}${knownHostsName(host, port)} ${keyType(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
}
