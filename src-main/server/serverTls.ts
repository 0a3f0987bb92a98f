import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HindsightError } from '../../src-shared/errors.js';

export interface ServerCertificate {
  readonly cert: string;
  readonly key: string;
  /** The certificate's SHA-256 fingerprint as clients show and pin it: "SHA256:AB:CD:…". */
  readonly fingerprint: string;
  /** The PEM file a client can trust (`--rest-cacert`). */
  readonly certFile: string;
}

export class TlsSetupError extends HindsightError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_TLS', message, options);
  }
}

/** The certificate and key given with --tls-cert and --tls-key, checked to belong together. */
export async function loadCertificate(certFile: string, keyFile: string): Promise<ServerCertificate> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new TlsSetupError(`Cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { cause: err });
    }
  };
  const cert = await read(certFile, 'certificate');
  const key = await read(keyFile, 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TlsSetupError(`${certFile} is not a PEM certificate.`, { cause: err });
  }
  let matches = false;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new TlsSetupError(`${keyFile} is not a PEM private key (an encrypted key is not supported).`, { cause: err });
  }
  if (!matches) throw new TlsSetupError(`The key ${keyFile} does not belong to the certificate ${certFile}.`);
  return { cert, key, fingerprint: fingerprintOf(x509), certFile };
}

/**
 * A self-signed certificate kept in `folder` (made on first use, then reused so its fingerprint, which
 * clients pin, stays the same across restarts). Made with openssl, which Node cannot do itself; valid
 * for localhost, this machine's name, the loopback addresses and `listenHost` when it is one address.
 */
export async function selfSignedCertificate(folder: string, listenHost: string): Promise<ServerCertificate> {
  const certFile = join(folder, 'tls-cert.pem');
  const keyFile = join(folder, 'tls-key.pem');
  const existing = await readFile(certFile, 'utf8').catch(() => undefined);
  if (existing === undefined) {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const names = new Set(['DNS:localhost', `DNS:${hostname()}`, 'IP:127.0.0.1', 'IP:::1']);
    if (/^[\d.]+$|:/.test(listenHost) && listenHost !== '0.0.0.0' && listenHost !== '::') names.add(`IP:${listenHost}`);
    const tempCert = `${certFile}.tmp`;
    const tempKey = `${keyFile}.tmp`;
    try {
      await promisify(execFile)('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', tempKey, '-out', tempCert, '-days', '3650', '-subj', `/CN=${hostname()}`, '-addext', `subjectAltName=${[...names].join(',')}`,
      ]);
      // openssl leaves the key's mode to the umask.
      await chmod(tempKey, 0o600);
      await rename(tempKey, keyFile);
      await rename(tempCert, certFile);
    } catch (err) {
      await rm(tempCert, { force: true });
      await rm(tempKey, { force: true });
      throw new TlsSetupError(`Cannot make a self-signed certificate with openssl (${(err as Error).message.split('\n')[0]}); install openssl, or give --tls-cert and --tls-key.`, { cause: err });
    }
  }
  return loadCertificate(certFile, keyFile);
}

function fingerprintOf(x509: X509Certificate): string {
  return `SHA256:${x509.fingerprint256}`;
}
