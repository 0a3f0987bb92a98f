import { useEffect, useState } from 'react';
import { FolderChooser } from './FolderChooser.js';

type Kind = 'local' | 'sftp' | 's3';

/** Builds a repository location (a folder, sftp://…, s3://…) from fields a person understands. */
export function LocationFields({ onChange }: { onChange: (location: string) => void }) {
  const [kind, setKind] = useState<Kind>('local');
  const [folder, setFolder] = useState('');
  const [sftp, setSftp] = useState({ user: '', host: '', port: '22', path: '' });
  const [s3, setS3] = useState({ endpoint: '', bucket: '', prefix: 'hindsight' });

  useEffect(() => {
    if (kind === 'local') onChange(folder.trim());
    else if (kind === 'sftp') {
      const { user, host, port, path } = sftp;
      onChange(host && path ? `sftp://${user ? `${user}@` : ''}${host}${port && port !== '22' ? `:${port}` : ''}/${path.replace(/^\/+/, '')}` : '');
    } else {
      const { endpoint, bucket, prefix } = s3;
      const tail = `${bucket}${prefix ? `/${prefix.replace(/^\/+/, '')}` : ''}`;
      onChange(!bucket ? '' : endpoint ? `s3://${endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '')}/${tail}` : `s3:${tail}`);
    }
  }, [kind, folder, sftp, s3, onChange]);

  return (
    <div className="location-fields">
      <div className="segmented" role="radiogroup" aria-label="Where backups go">
        {(
          [
            ['local', 'Disk or folder'],
            ['sftp', 'SFTP server'],
            ['s3', 'S3-compatible'],
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
    </div>
  );
}

function Text({ label, value, onChange, placeholder }: { label: string; value: string; onChange: (v: string) => void; placeholder?: string }) {
  const id = `loc-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="text" value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} spellCheck={false} />
    </div>
  );
}
