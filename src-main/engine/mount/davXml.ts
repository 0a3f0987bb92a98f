import { createHash } from 'node:crypto';
import { displayName } from '../snapshot/tree.js';
import type { ViewEntry } from './snapshotView.js';

/** One resource of a PROPFIND answer: its path as sent back (percent-encoded) and what is known of it. */
export interface DavResource {
  readonly href: string;
  readonly entry: ViewEntry;
}

/**
 * A 207 Multi-Status body (RFC 4918) with the live properties clients read to list a folder: type,
 * size, modification time, content type and entity tag; and, in Hindsight's own namespace, the
 * permission bits, owner and group saved with each entry (clients that know no better ignore them).
 * Every PROPFIND gets these whatever it asked for, as RFC 4918 allows for allprop.
 */
export function multistatus(resources: readonly DavResource[]): string {
  const responses = resources.map(({ href, entry }) => {
    const props = [
      `<D:displayname>${xmlText(displayName(entry.name))}</D:displayname>`,
      entry.kind === 'dir' ? '<D:resourcetype><D:collection/></D:resourcetype>' : '<D:resourcetype/>',
      `<D:getlastmodified>${new Date(entry.mtimeMs).toUTCString()}</D:getlastmodified>`,
    ];
    if (entry.kind === 'file') {
      props.push(`<D:getcontentlength>${entry.size}</D:getcontentlength>`, '<D:getcontenttype>application/octet-stream</D:getcontenttype>');
      const tag = entityTag(entry);
      if (tag) props.push(`<D:getetag>${xmlText(tag)}</D:getetag>`);
    }
    if (entry.node) props.push(`<H:mode>${entry.node.mode.toString(8).padStart(4, '0')}</H:mode>`, `<H:uid>${entry.node.uid}</H:uid>`, `<H:gid>${entry.node.gid}</H:gid>`);
    return `<D:response><D:href>${xmlText(href)}</D:href><D:propstat><D:prop>${props.join('')}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`;
  });
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" xmlns:H="https://hindsight.example.org/ns">${responses.join('')}</D:multistatus>\n`;
}

/** A file's entity tag: its chunk ids hashed, so the same content in two snapshots has the same tag. */
export function entityTag(entry: ViewEntry): string | undefined {
  const content = entry.node?.content;
  if (!content) return undefined;
  const hash = createHash('sha256');
  for (const id of content) hash.update(id);
  return `"${hash.digest('hex').slice(0, 32)}"`;
}

function xmlText(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
