import { useEffect, useState } from 'react';
import type { Result } from '../../../src-shared/api.js';
import type { TargetSettings } from '../../../src-shared/plan.js';
import { useClient } from '../store/appContext.js';
import { TextField } from './TextField.js';

type Certificate = Result<'host.serverCertificate'>;

const DEFAULT_PORT = 8000;

/** host and port from "backupbox", "backupbox:8000", "https://backupbox:8000/…" or "[::1]:8000"; undefined when it is none of them. */
function parseAddress(text: string): { host: string; port: number } | undefined {
  const trimmed = text.trim().replace(/^https:\/\//i, '').replace(/\/.*$/, '');
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+)(?::(\d{1,5}))?$/.exec(trimmed);
  if (!match) return undefined;
  const port = match[2] === undefined ? DEFAULT_PORT : Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port };
}

/**
 * A "Hindsight server" (`hindsight server` on a box in the house or office): its address, the user and
 * password it knows, and a repository name under the user's folder. The first time, the server's
 * certificate fingerprint is shown to be compared with the one the server printed at start, as ssh shows
 * an unknown host key; only once confirmed is it a location, with the fingerprint pinned as the target's
 * `restFingerprint` (a server later showing another certificate is refused). A certificate the system's
 * CAs vouch for needs no pin. The password travels in the location to the agent, which moves it to the keychain.
 */
export function ServerFields({ onTarget }: { onTarget: (location: string, settings?: TargetSettings) => void }) {
  const client = useClient();
  const [draft, setDraft] = useState({ address: '', user: '', password: '', repository: 'laptop' });
  const [certificate, setCertificate] = useState<{ for: string; shown: Certificate }>();
  const [confirmed, setConfirmed] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const [checking, setChecking] = useState(false);
  const address = parseAddress(draft.address);
  const addressKey = address ? `${address.host}:${address.port}` : '';
  const shown = certificate?.for === addressKey ? certificate.shown : undefined;
  const pinned = shown && !shown.trusted && confirmed === shown.fingerprint ? shown.fingerprint : undefined;

  useEffect(() => {
    const { user, password, repository } = draft;
    const name = repository.trim().replace(/^\/+|\/+$/g, '');
    if (!address || !user.trim() || !name || !shown || (!shown.trusted && !pinned)) return onTarget('');
    const url = new URL(`https://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}/`);
    url.pathname = `/${encodeURIComponent(user.trim())}/${name.split('/').map(encodeURIComponent).join('/')}`;
    url.username = encodeURIComponent(user.trim());
    if (password) url.password = encodeURIComponent(password);
    onTarget(`rest:${url.toString()}`, pinned ? { restFingerprint: pinned } : undefined);
  }, [draft, address?.host, address?.port, shown, pinned, onTarget]);

  const check = async () => {
    if (!address) return;
    setChecking(true);
    setProblem(undefined);
    try {
      setCertificate({ for: addressKey, shown: await client.call('host.serverCertificate', address) });
    } catch (err) {
      setCertificate(undefined);
      setProblem((err as Error).message);
    } finally {
      setChecking(false);
    }
  };

  return (
    <div className="grid-2 server-fields">
      <TextField idPrefix="server" label="Server address" value={draft.address} onChange={(value) => setDraft({ ...draft, address: value })} placeholder={`backupbox.local:${DEFAULT_PORT}`} />
      <TextField idPrefix="server" label="Repository name" value={draft.repository} onChange={(repository) => setDraft({ ...draft, repository })} placeholder="laptop" />
      <TextField idPrefix="server" label="User on the server" value={draft.user} onChange={(user) => setDraft({ ...draft, user })} />
      <TextField idPrefix="server" label="Password on the server" type="password" value={draft.password} onChange={(password) => setDraft({ ...draft, password })} />
      <div className="span-2 server-certificate">
        {!shown && (
          <button type="button" className="button" disabled={!address || checking} onClick={() => void check()}>
            {checking ? 'Checking…' : "Check the server's certificate"}
          </button>
        )}
        {problem && (
          <p className="hint error-text" role="alert">
            {problem}
          </p>
        )}
        {shown?.trusted && (
          <p className="hint" role="status">
            The certificate of {addressKey} is signed by an authority this machine trusts{shown.subject ? ` (for ${shown.subject})` : ''}: no fingerprint to confirm.
          </p>
        )}
        {shown && !shown.trusted && !pinned && (
          <div className="fingerprint-check" role="group" aria-label="Confirm the server's certificate">
            <p>
              First connection to {addressKey}. Its certificate is {shown.problem ?? 'not signed by an authority this machine trusts'}; its fingerprint is
            </p>
            <p className="mono fingerprint" data-testid="server-fingerprint">
              {shown.fingerprint}
            </p>
            <p className="hint">
              Compare it with the fingerprint <span className="mono">hindsight server</span> printed when it started. Trust it only if they are the same: another certificate
              could be someone else's server in between.
            </p>
            <div className="actions">
              <button type="button" className="button primary" onClick={() => setConfirmed(shown.fingerprint)}>
                The fingerprints match: trust this server
              </button>
              <button type="button" className="button" onClick={() => setCertificate(undefined)}>
                Cancel
              </button>
            </div>
          </div>
        )}
        {pinned && (
          <p className="hint" role="status">
            Trusted: {addressKey} with the certificate <span className="mono">{pinned}</span>. A server showing any other certificate there will be refused.
          </p>
        )}
      </div>
      <p className="hint span-2">
        A Hindsight server (<span className="mono">hindsight server</span>) on a machine in your home or office. The repository is kept under your user's folder on it; the password is
        kept in the system keychain, never in the plan.
      </p>
    </div>
  );
}
