import { rendererContentSecurityPolicy, rendererFilePath } from '../renderer/rendererFiles.js';
import { APP_HOST, APP_SCHEME } from './ipcValidation.js';

/** The window's CSP: the renderer's own, with no network at all (it reaches the agent through the preload only). */
export const CONTENT_SECURITY_POLICY = rendererContentSecurityPolicy("'none'");

/**
 * The file under `root` (the built renderer) that an `app://hindsight/…` URL
 * names, or undefined for another host or a path that would leave `root`.
 * The folder itself serves index.html, so the app opens at `app://hindsight/`.
 */
export function rendererFile(root: string, url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return undefined;
  return rendererFilePath(root, parsed.pathname);
}
