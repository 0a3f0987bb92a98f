/** How remote targets are named in messages and histories; shared by the backends and by location.ts, which names them before their modules load. */

export function sftpLocationName(options: { readonly username: string; readonly host: string; readonly port?: number; readonly path: string }): string {
  const port = options.port ?? 22;
  const root = options.path.replace(/\/+$/, '') || '/';
  return `sftp://${options.username}@${options.host}${port === 22 ? '' : `:${port}`}${root.startsWith('/') ? '' : '/~/'}${root}`;
}

export function s3LocationName(options: { readonly endpoint?: string; readonly bucket: string; readonly prefix?: string }): string {
  const prefix = s3Prefix(options.prefix);
  return options.endpoint ? `s3:${options.endpoint.replace(/\/+$/, '')}/${options.bucket}/${prefix}`.replace(/\/$/, '') : `s3:${options.bucket}/${prefix}`.replace(/\/$/, '');
}

/** The key prefix of a repository in its bucket: no leading slash, one trailing slash unless empty. */
export function s3Prefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** A REST server's repository URL as messages show it: scheme, host, port and path, never a user name or password. */
export function restLocationName(url: URL): string {
  return `rest:${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** An Azure container's repository as messages show it: azure://ACCOUNT/CONTAINER/PREFIX, or azure:CONTAINER/PREFIX when the account comes from the environment. */
export function azureLocationName(options: { readonly account?: string | undefined; readonly container: string; readonly prefix?: string }): string {
  const path = `${options.container}/${s3Prefix(options.prefix)}`.replace(/\/$/, '');
  return options.account ? `azure://${options.account}/${path}` : `azure:${path}`;
}
