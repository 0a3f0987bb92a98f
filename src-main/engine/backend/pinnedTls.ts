import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';

/** A TLS connection refused because the server's certificate is not the pinned one. */
export class FingerprintMismatch extends Error {
  readonly code = 'ERR_TLS_FINGERPRINT_MISMATCH';
  constructor(readonly seen: string) {
    super(`the server's certificate has the fingerprint SHA256:${seen}`);
  }
}

/**
 * An HTTPS agent that trusts exactly one certificate, by its SHA-256 fingerprint, instead of a CA: for a
 * server with a self-signed certificate whose fingerprint was checked once. The socket is handed to
 * the request only after the handshake showed the pinned certificate, so nothing (the password in the
 * Authorization header included) is sent to another server.
 */
export class PinnedAgent extends HttpsAgent {
  constructor(
    options: AgentOptions,
    private readonly fingerprint: string,
  ) {
    super(options);
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    // The chain is not checked against a CA (a self-signed certificate has none): the fingerprint is.
    const socket = tlsConnect({ ...(options as ConnectionOptions), rejectUnauthorized: false });
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      socket.off('error', settle);
      callback?.(err, socket);
    };
    socket.once('secureConnect', () => {
      const seen = socket.getPeerCertificate().fingerprint256;
      if (seen === this.fingerprint) return settle(null);
      socket.destroy();
      settle(new FingerprintMismatch(seen));
    });
    socket.once('error', settle);
    return undefined;
  }
}
