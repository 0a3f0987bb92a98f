import { checkServerIdentity, connect } from 'node:tls';
import { HindsightError } from '../../../src-shared/errors.js';

export interface ServerCertificate {
  /** "SHA256:AB:CD:…", as `hindsight server` prints it and `--rest-fingerprint` takes it. */
  readonly fingerprint: string;
  /** Whether the system's certificate authorities vouch for it for this host name (then no pin is needed). */
  readonly trusted: boolean;
  /** Why they do not (self-signed, expired, made for another name…), when not trusted. */
  readonly problem?: string;
  /** Who it names (its subject's common name), to show beside the fingerprint. */
  readonly subject?: string;
  readonly validTo: string;
}

/**
 * The certificate an HTTPS server at `host:port` shows, read with a TLS handshake and nothing else
 * (no request, no password sent): for a person to compare its fingerprint with the one the server
 * printed before trusting it, as ssh shows an unknown host key. Fails after `timeoutMs` without a handshake.
 */
export function fetchServerCertificate(host: string, port: number, timeoutMs = 10_000): Promise<ServerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername: isIpAddress(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
    const fail = (message: string, cause?: unknown) => {
      socket.destroy();
      reject(new HindsightError('E_UNREACHABLE', message, { cause }));
    };
    socket.setTimeout(timeoutMs, () => fail(`${host}:${port} did not complete a TLS handshake within ${timeoutMs / 1000} s: is it an HTTPS server (hindsight server with --tls-self-signed or --tls-cert)?`));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? 'nothing listens there' : err.code === 'ENOTFOUND' ? 'the name does not resolve' : /wrong version number|packet length too long/i.test(err.message) ? 'it does not speak TLS (a plain HTTP server?)' : err.message;
      fail(`Cannot reach an HTTPS server at ${host}:${port}: ${why}.`, err);
    });
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerCertificate();
      const fingerprint = certificate.fingerprint256;
      socket.end();
      if (!fingerprint) return fail(`${host}:${port} showed no certificate.`);
      // The chain alone is what `authorized` says; the name is checked as an HTTPS request would.
      const problem = socket.authorizationError ? describeProblem(String(socket.authorizationError)) : checkServerIdentity(host, certificate) ? `made for another name than ${host}` : undefined;
      const subject = certificate.subject?.CN;
      resolve({
        fingerprint: `SHA256:${fingerprint}`,
        trusted: problem === undefined,
        ...(problem ? { problem } : {}),
        ...(typeof subject === 'string' ? { subject } : {}),
        validTo: new Date(certificate.valid_to).toISOString(),
      });
    });
  });
}

/** OpenSSL's verification codes for what a person meets, in words. */
function describeProblem(code: string): string {
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return 'self-signed';
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_NOT_YET_VALID') return 'not valid yet';
  if (code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY') return 'signed by an authority this machine does not know';
  return `not trusted: ${code}`;
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
