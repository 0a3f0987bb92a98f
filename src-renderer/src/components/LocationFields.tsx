import { useCallback, useEffect, useState } from 'react';
import type { TargetSettings } from '../../../src-shared/plan.js';
import { useClient } from '../store/appContext.js';
import { FolderChooser } from './FolderChooser.js';
import { ServerFields } from './ServerFields.js';
import { TextField } from './TextField.js';

type Kind = 'local' | 'server' | 'sftp' | 's3' | 'rest' | 'rclone' | 'azure';

/**
 * Builds a repository location (a folder, a Hindsight server, sftp://…, s3://…, rest:…, rclone:…, azure://…) from fields a
 * person understands, with the target's settings where it has some. Secrets travel to the agent, which
 * moves them into the keychain before it keeps anything: a REST user name and password in the location,
 * an Azure access key or SAS token in the settings.
 */
export function LocationFields({ onChange }: { onChange: (location: string, settings?: TargetSettings) => void }) {
  const [kind, setKind] = useState<Kind>('local');
  const [folder, setFolder] = useState('');
  const [sftp, setSftp] = useState({ user: '', host: '', port: '22', path: '' });
  const [s3, setS3] = useState({ endpoint: '', bucket: '', prefix: 'hindsight' });
  const [rest, setRest] = useState({ url: '', user: '', password: '', caCert: '' });
  const [rclone, setRclone] = useState({ remote: '', path: 'hindsight', program: '' });
  const [azure, setAzure] = useState({ account: '', container: '', prefix: 'hindsight', signIn: 'key' as 'key' | 'sas', secret: '', endpoint: '' });
  const [server, setServer] = useState<[string, TargetSettings | undefined]>(['', undefined]);
  const onServer = useCallback((location: string, settings?: TargetSettings) => setServer([location, settings]), []);

  useEffect(() => {
    if (kind === 'local') onChange(folder.trim());
    else if (kind === 'server') onChange(...server);
    else if (kind === 'rest') onChange(restLocation(rest), rest.caCert.trim() ? { restCaCert: rest.caCert.trim() } : undefined);
    else if (kind === 'rclone') {
      const remote = rclone.remote.trim().replace(/:$/, '');
      onChange(remote ? `rclone:${remote}:${rclone.path.trim()}` : '', rclone.program.trim() ? { rcloneProgram: rclone.program.trim() } : undefined);
    } else if (kind === 'azure') onChange(...azureTarget(azure));
    else if (kind === 'sftp') {
      const { user, host, port, path } = sftp;
      onChange(host && path ? `sftp://${user ? `${user}@` : ''}${host}${port && port !== '22' ? `:${port}` : ''}/${path.replace(/^\/+/, '')}` : '');
    } else {
      const { endpoint, bucket, prefix } = s3;
      const tail = `${bucket}${prefix ? `/${prefix.replace(/^\/+/, '')}` : ''}`;
      onChange(!bucket ? '' : endpoint ? `s3://${endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '')}/${tail}` : `s3:${tail}`);
    }
  }, [kind, folder, server, sftp, s3, rest, rclone, azure, onChange]);

  return (
    <div className="location-fields">
      <div className="segmented" role="radiogroup" aria-label="Where backups go">
        {(
          [
            ['local', 'Disk or folder'],
            ['server', 'Hindsight server'],
            ['sftp', 'SFTP server'],
            ['s3', 'S3-compatible'],
            ['rest', 'REST server'],
            ['azure', 'Azure Blob Storage'],
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
      {kind === 'server' && <ServerFields onTarget={onServer} />}
      {kind === 'sftp' && (
        <div className="grid-2">
          <TextField idPrefix="loc" label="Server" value={sftp.host} onChange={(host) => setSftp({ ...sftp, host })} placeholder="nas.local" />
          <TextField idPrefix="loc" label="Port" value={sftp.port} onChange={(port) => setSftp({ ...sftp, port })} />
          <TextField idPrefix="loc" label="User" value={sftp.user} onChange={(user) => setSftp({ ...sftp, user })} />
          <TextField idPrefix="loc" label="Folder on the server" value={sftp.path} onChange={(path) => setSftp({ ...sftp, path })} placeholder="backups/hindsight" />
          <p className="hint span-2">Logs in with your SSH key (ssh-agent or ~/.ssh). The server must already be in ~/.ssh/known_hosts.</p>
        </div>
      )}
      {kind === 's3' && (
        <div className="grid-2">
          <TextField idPrefix="loc" label="Endpoint (empty for AWS)" value={s3.endpoint} onChange={(endpoint) => setS3({ ...s3, endpoint })} placeholder="minio.local:9000" />
          <TextField idPrefix="loc" label="Bucket" value={s3.bucket} onChange={(bucket) => setS3({ ...s3, bucket })} />
          <TextField idPrefix="loc" label="Prefix" value={s3.prefix} onChange={(prefix) => setS3({ ...s3, prefix })} />
          <p className="hint span-2">Credentials come from the agent's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or ~/.aws.</p>
        </div>
      )}
      {kind === 'rest' && (
        <div className="grid-2">
          <TextField idPrefix="loc" label="Server URL" value={rest.url} onChange={(url) => setRest({ ...rest, url })} placeholder="https://backup.example:8000/you/laptop" />
          <TextField idPrefix="loc" label="CA certificate file (self-signed server)" value={rest.caCert} onChange={(caCert) => setRest({ ...rest, caCert })} placeholder="/etc/hindsight/server.pem" />
          <TextField idPrefix="loc" label="Server user" value={rest.user} onChange={(user) => setRest({ ...rest, user })} />
          <TextField idPrefix="loc" label="Server password" type="password" value={rest.password} onChange={(password) => setRest({ ...rest, password })} />
          <p className="hint span-2">restic's rest-server, rclone serve restic or a NAS package. The server's user name and password are kept in the system keychain, never in the plan.</p>
        </div>
      )}
      {kind === 'azure' && (
        <div className="grid-2">
          <TextField idPrefix="loc" label="Storage account" value={azure.account} onChange={(account) => setAzure({ ...azure, account: account.trim().toLowerCase() })} placeholder="mybackups" />
          <TextField idPrefix="loc" label="Container" value={azure.container} onChange={(container) => setAzure({ ...azure, container: container.trim().toLowerCase() })} placeholder="hindsight" />
          <TextField idPrefix="loc" label="Folder in the container" value={azure.prefix} onChange={(prefix) => setAzure({ ...azure, prefix })} />
          <div className="field">
            <label htmlFor="loc-azure-sign-in">Sign in with</label>
            <select id="loc-azure-sign-in" value={azure.signIn} onChange={(e) => setAzure({ ...azure, signIn: e.target.value as 'key' | 'sas' })}>
              <option value="key">The account's access key</option>
              <option value="sas">A SAS token</option>
            </select>
          </div>
          <TextField idPrefix="loc" label={azure.signIn === 'key' ? 'Access key' : 'SAS token'} type="password" value={azure.secret} onChange={(secret) => setAzure({ ...azure, secret })} />
          <TextField idPrefix="loc" label="Blob endpoint (empty for Azure's own)" value={azure.endpoint} onChange={(endpoint) => setAzure({ ...azure, endpoint })} placeholder="https://mybackups.blob.core.windows.net" />
          <p className="hint span-2">
            The key is on the storage account's "Access keys" page. It is kept in the system keychain, never in the plan. Without one, the agent uses AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY from its environment.
          </p>
        </div>
      )}
      {kind === 'rclone' && <RcloneFields value={rclone} onChange={setRclone} />}
    </div>
  );
}

/** azure://ACCOUNT/CONTAINER/FOLDER with its endpoint and the key or SAS token as settings; empty while account or container is missing. */
function azureTarget({ account, container, prefix, signIn, secret, endpoint }: { account: string; container: string; prefix: string; signIn: 'key' | 'sas'; secret: string; endpoint: string }): [string, TargetSettings | undefined] {
  if (!account || !container) return ['', undefined];
  const folder = prefix.trim().replace(/^\/+|\/+$/g, '');
  const settings: TargetSettings = {
    ...(endpoint.trim() ? { azureEndpoint: endpoint.trim() } : {}),
    ...(secret.trim() ? (signIn === 'key' ? { azureKey: secret.trim() } : { azureSasToken: secret.trim().replace(/^\?/, '') }) : {}),
  };
  return [`azure://${account}/${container}${folder ? `/${folder}` : ''}`, Object.keys(settings).length > 0 ? settings : undefined];
}

interface RcloneDraft {
  remote: string;
  path: string;
  program: string;
}

/**
 * An rclone remote chosen from those "rclone listremotes" gives on the agent's machine, or typed when
 * rclone cannot list them (not installed there, a configuration it cannot read): the reason is shown.
 */
function RcloneFields({ value, onChange }: { value: RcloneDraft; onChange: (value: RcloneDraft) => void }) {
  const client = useClient();
  const [remotes, setRemotes] = useState<readonly string[]>();
  const [problem, setProblem] = useState<string>();
  const [typed, setTyped] = useState(false);
  const program = value.program.trim();
  useEffect(() => {
    let current = true;
    // Asked again when the program changes, once typing has paused.
    const timer = setTimeout(() => {
      client
        .call('host.rcloneRemotes', program ? { program } : {})
        .then(({ remotes: found }) => {
          if (!current) return;
          setRemotes(found);
          setProblem(found.length === 0 ? 'rclone has no remotes yet: add one with "rclone config" on the machine the agent runs on, or type one below.' : undefined);
        })
        .catch((err: Error) => {
          if (!current) return;
          setRemotes(undefined);
          setProblem(err.message);
        });
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [client, program]);
  const choices = !typed && remotes && remotes.length > 0 ? remotes : undefined;
  useEffect(() => {
    // The first remote is chosen until the person picks another.
    if (choices && !choices.includes(value.remote)) onChange({ ...value, remote: choices[0] ?? '' });
  }, [choices, value, onChange]);
  return (
    <div className="grid-2">
      {choices ? (
        <div className="field">
          <label htmlFor="loc-rclone-remote-choice">rclone remote</label>
          <select
            id="loc-rclone-remote-choice"
            value={value.remote}
            onChange={(e) => {
              if (e.target.value === '') setTyped(true);
              else onChange({ ...value, remote: e.target.value });
            }}
          >
            {choices.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
            <option value="">Another (type it)…</option>
          </select>
        </div>
      ) : (
        <TextField idPrefix="loc" label="rclone remote" value={value.remote} onChange={(typedRemote) => onChange({ ...value, remote: typedRemote })} placeholder="gdrive" />
      )}
      <TextField idPrefix="loc" label="Path in the remote" value={value.path} onChange={(path) => onChange({ ...value, path })} />
      <TextField idPrefix="loc" label="rclone program (empty: rclone on the PATH)" value={value.program} onChange={(typedProgram) => onChange({ ...value, program: typedProgram })} placeholder="/usr/bin/rclone" />
      {problem && (
        <p className="hint span-2" role="status">
          {problem}
        </p>
      )}
      <p className="hint span-2">Any remote set up with "rclone config" (Google Drive, OneDrive, Dropbox, B2, WebDAV…) on the machine the agent runs on. Hindsight runs rclone itself.</p>
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
