/** "SHA256:AB:CD:…" (as `hindsight server` prints it), "AB:CD:…" or 64 hex digits, as Node spells fingerprint256; undefined when it is none of them. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.trim().replace(/^sha256:/i, '').replace(/:/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  return hex.toUpperCase().match(/../g)?.join(':');
}
