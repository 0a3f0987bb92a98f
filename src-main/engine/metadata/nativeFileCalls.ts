import { nativeAddon, type NativeAddon } from '../nativeAddon.js';

/** The addon's file calls (see nativeAddon.ts), for a system with file flags. */
export type FileCalls = Pick<NativeAddon, 'get' | 'getFd' | 'set' | 'setBirthtime'> & { readonly kind: 'linux' | 'bsd' };

/** The addon's file calls, or null where it is not built or was built for a system without flags. */
export function fileCalls(): FileCalls | null {
  const loaded = nativeAddon();
  return loaded && (loaded.kind === 'linux' || loaded.kind === 'bsd') ? (loaded as FileCalls) : null;
}
