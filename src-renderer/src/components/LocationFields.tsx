import { useEffect, useState } from 'react';
import type { TargetSettings } from '../../../src-shared/plan.js';
import { FolderChooser } from './FolderChooser.js';

type Kind = 'local' | 'sftp' | 's3' | 'rest' | 'rclone';

/**
 * Builds a repository location (a folder, sftp://…, s3://…, rest:…, rclone:…) from fields a person
 * understands, with the target's settings where it has some. A REST user name and password go into the
 * location; the agent takes them out of it into the keychain before it keeps anything.
 */
export function LocationFields({ onChange }: { onChange: (location: string, settings?: TargetSettings) => void }) {
  const [kind, setKind] = useState<Kind>('local');
  const [folder, setFolder] = useState('');
  const [sftp, setSftp] = useState({ user: '', host: '', port: '22', path: '' });
  const [s3, setS3] = useState({ endpoint: '', bucket: '', prefix: 'hindsight' });
  const [rest, setRest] = useState({ url: '', user: '', password: '', caCert: '' });
  const [rclone, setRclone] = useState({ remote: '', path: 'hindsight', program: '' });

  useEffect(() => {
    if (kind === 'local') onChange(folder.trim());
    else if (kind === 'rest') onChange(restLocation(rest), rest.caCert.trim() ? { restCaCert: rest.caCert.trim() } : undefined);
    else if (kind === 'rclone') {
      const remote = rclone.remote.trim().replace(/:$/, '');
      onChange(remote ? `rclone:${remote}:${rclone.path.trim()}` : '', rclone.program.trim() ? { rcloneProgram: rclone.program.trim() } : undefined);
    } else if (kind === 'sftp') {
      const { user, host, port, path } = sftp;
      onChange(host && path ? `sftp://${user ? `${user}@` : ''}${host}${port && port !== '22' ? `:${port}` : ''}/${path.replace(/^\/+/, '')}` : '');
    } else {
      const { endpoint, bucket, prefix } = s3;
      const tail = `${bucket}${prefix ? `/${prefix.replace(/^\/+/, '')}` : ''}`;
      onChange(!bucket ? '' : endpoint ? `s3://${endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '')}/${tail}` : `s3:${tail}`);
    }
  }, [kind, folder, sftp, s3, rest, rclone, onChange]);

  return (
    <div className="location-fields">
      <div className="segmented" role="radiogroup" aria-label="Where backups go">
        {(
          [
            ['local', 'Disk or folder'],
            ['sftp', 'SFTP server'],
            ['s3', 'S3-compatible'],
            ['rest', 'REST server'],
            ['rclone', 'rclone remote'],
          ] as const
        ).map(([value, text]) => (
          <button key={value} type="button" role="radio" aria-checked={kind === value} className={kind === value ? 'on' : ''} onClick={() => setKind(value)}>
            {text}
          </button>
        ))}
      </div>
      {kind === 'local' && (
        <div className="field">
          <label htmlFor="repo-folder">Backup folder (an external disk is best)</label>
          <FolderChooser id="repo-folder" label="Backup folder" value={folder} onChange={setFolder} placeholder="/media/you/backup-disk/hindsight" />
        </div>
      )}
      {kind === 'sftp' && (
        <div className="grid-2">
          <Text label="Server" value={sftp.host} onChange={(host) => setSftp({ ...sftp, host })} placeholder="nas.local" />
          <Text label="Port" value={sftp.port} onChange={(port) => setSftp({ ...sftp, port })} />
          <Text label="User" value={sftp.user} onChange={(user) => setSftp({ ...sftp, user })} />
          <Text label="Folder on the server" value={sftp.path} onChange={(path) => setSftp({ ...sftp, path })} placeholder="backups/hindsight" />
          <p className="hint span-2">Logs in with your SSH key (ssh-agent or ~/.ssh). The server must already be in ~/.ssh/known_hosts.</p>
        </div>
      )}
      {kind === 's3' && (
        <div className="grid-2">
          <Text label="Endpoint (empty for AWS)" value={s3.endpoint} onChange={(endpoint) => setS3({ ...s3, endpoint })} placeholder="minio.local:9000" />
          <Text label="Bucket" value={s3.bucket} onChange={(bucket) => setS3({ ...s3, bucket })} />
          <Text label="Prefix" value={s3.prefix} onChange={(prefix) => setS3({ ...s3, prefix })} />
          <p className="hint span-2">Credentials come from the agent's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or ~/.aws.</p>
        </div>
      )}
      {kind === 'rest' && (
        <div className="grid-2">
          <Text label="Server URL" value={rest.url} onChange={(url) => setRest({ ...rest, url })} placeholder="https://backup.example:8000/you/laptop" />
          <Text label="CA certificate file (self-signed server)" value={rest.caCert} onChange={(caCert) => setRest({ ...rest, caCert })} placeholder="/etc/hindsight/server.pem" />
          <Text label="Server user" value={rest.user} onChange={(user) => setRest({ ...rest, user })} />
          <Text label="Server password" type="password" value={rest.password} onChange={(password) => setRest({ ...rest, password })} />
          <p className="hint span-2">restic's rest-server, rclone serve restic or a NAS package. The server's user name and password are kept in the system keychain, never in the plan.</p>
        </div>
      )}
      {kind === 'rclone' && (
        <div className="grid-2">
          <Text label="rclone remote" value={rclone.remote} onChange={(remote) => setRclone({ ...rclone, remote })} placeholder="gdrive" />
          <Text label="Path in the remote" value={rclone.path} onChange={(path) => setRclone({ ...rclone, path })} />
          <Text label="rclone program (empty: rclone on the PATH)" value={rclone.program} onChange={(program) => setRclone({ ...rclone, program })} placeholder="/usr/bin/rclone" />
          <p className="hint span-2">Any remote set up with "rclone config" (Google Drive, OneDrive, Dropbox, B2, WebDAV…); "rclone listremotes" lists them. Hindsight runs rclone itself.</p>
        </div>
      )}
    </div>
  );
}

/** rest:URL with the user name and password written in it; empty while the URL is not one. */
function restLocation({ url, user, password }: { url: string; user: string; password: string }): string {
  const trimmed = url.trim();
  if (!trimmed) return '';
  let parsed: URL;
  try {
    parsed = new URL(/^https?:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`);
  } catch {
    return '';
  }
  if (user) parsed.username = encodeURIComponent(user);
  if (password) parsed.password = encodeURIComponent(password);
  return `rest:${parsed.toString()}`;
}

function Text({ label, value, onChange, placeholder, type = 'text' }: { label: string; value: string; onChange: (v: string) => void; placeholder?: string; type?: 'text' | 'password' }) {
  const id = `loc-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type={type} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} spellCheck={false} autoComplete={type === 'password' ? 'off' : undefined} />
    </div>
  );
}
