import * as v from 'valibot';
import { isMethod, methods, type Method } from '../../src-shared/api.js';
import type { SnapshotItem } from '../../src-shared/client.js';
import { HindsightError } from '../../src-shared/errors.js';

/**
 * The renderer is served from this origin (a privileged `app:` scheme, see
 * rendererProtocol.ts), so a page that navigated elsewhere or an iframe can be
 * told apart from our own main frame.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'hindsight';
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** What the IPC bridge knows about the frame a message came from. */
export interface SenderFrame {
  readonly url: string;
  /** False for iframes. */
  readonly isMainFrame: boolean;
}

/** A message from the renderer that the main process refuses to forward. */
export class IpcRejected extends HindsightError {}

/** Only our own page's main frame may talk to the agent. */
export function checkSender(frame: SenderFrame | null | undefined): void {
  if (!frame) throw new IpcRejected('E_IPC_SENDER', 'The message came from a frame that is gone.');
  if (!frame.isMainFrame) throw new IpcRejected('E_IPC_SENDER', 'Only the main frame may call Hindsight.');
  let url: URL;
  try {
    url = new URL(frame.url);
  } catch {
    throw new IpcRejected('E_IPC_SENDER', 'The message came from a page without a URL.');
  }
  // URL.origin is "null" for a scheme Node does not know, so scheme and host are compared themselves.
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) throw new IpcRejected('E_IPC_SENDER', `A page from ${url.protocol}//${url.host} may not call Hindsight.`);
}

/**
 * A call of the contract as the renderer sent it: the method must be one of
 * the contract's and the parameters must satisfy its schema. The agent checks
 * again; checking here keeps what a compromised renderer can send to the
 * agent process to exactly the contract.
 */
export function checkCall(method: unknown, params: unknown): { readonly method: Method; readonly params: unknown } {
  if (typeof method !== 'string' || !isMethod(method)) throw new IpcRejected('E_UNKNOWN_METHOD', `There is no method ${JSON.stringify(String(method)).slice(0, 120)}.`);
  const parsed = v.safeParse(methods[method], params ?? {});
  if (!parsed.success) throw new IpcRejected('E_INVALID_PARAMS', `Invalid parameters for ${method}: ${v.summarize(parsed.issues)}`);
  return { method, params: parsed.output };
}

const SnapshotItemSchema = v.strictObject({
  repository: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  snapshot: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  path: v.pipe(
    v.string(),
    v.maxLength(4096),
    v.check((p) => /^(\/|[A-Za-z]:[\\/])/.test(p), 'the path must be absolute'),
    v.check((p) => !p.split(/[\\/]/).includes('..'), 'the path must not contain ".."'),
  ),
});

export function checkSnapshotItem(value: unknown): SnapshotItem {
  const parsed = v.safeParse(SnapshotItemSchema, value);
  if (!parsed.success) throw new IpcRejected('E_INVALID_PARAMS', `Not an item of a snapshot: ${v.summarize(parsed.issues)}`);
  return parsed.output;
}

const PickFolderSchema = v.optional(v.strictObject({ title: v.optional(v.pipe(v.string(), v.maxLength(200))) }), {});

export function checkPickFolderOptions(value: unknown): { readonly title?: string } {
  const parsed = v.safeParse(PickFolderSchema, value);
  if (!parsed.success) throw new IpcRejected('E_INVALID_PARAMS', `Invalid folder picker options: ${v.summarize(parsed.issues)}`);
  return parsed.output;
}
