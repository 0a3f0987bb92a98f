import { normalizeFingerprint } from '../engine/backend/certificateFingerprint.js';
import { UsageError } from './cliError.js';

/** An --azure-endpoint as given, once it looks like a URL. */
export function checkedEndpoint(text: string): string {
  if (!/^https?:\/\/[^/\s]+/i.test(text.trim())) throw new UsageError(`--azure-endpoint takes the account's blob endpoint as a URL (https://ACCOUNT.blob.core.chinacloudapi.cn, http://127.0.0.1:10000/ACCOUNT), not "${text}".`);
  return text.trim();
}

/** A --rest-fingerprint as given, once it is a SHA-256 fingerprint in a spelling `normalizeFingerprint` takes. */
export function checkedFingerprint(text: string): string {
  if (!normalizeFingerprint(text)) throw new UsageError(`--rest-fingerprint takes a SHA-256 fingerprint as hindsight server prints it (SHA256:AB:CD:…, 32 pairs of hex digits), not "${text}".`);
  return text;
}
