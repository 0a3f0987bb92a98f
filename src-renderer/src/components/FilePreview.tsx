import { useEffect, useState } from 'react';
import { useClient } from '../store/appContext.js';

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp', ico: 'image/x-icon' };
const TEXT_PREVIEW_BYTES = 64 * 1024;
const IMAGE_PREVIEW_BYTES = 4 * 1024 * 1024;

type Preview = { kind: 'text'; text: string; truncated: boolean } | { kind: 'image'; url: string } | { kind: 'none'; why: string };

function decode(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A look inside a file as it was in a snapshot: text (the first 64 KiB) or an image; anything else is named, not shown. */
export function FilePreview({ repository, snapshot, path, size }: { repository: string; snapshot: string; path: string; size: number }) {
  const client = useClient();
  const [preview, setPreview] = useState<Preview>();
  useEffect(() => {
    let cancelled = false;
    let objectUrl: string | undefined;
    setPreview(undefined);
    const extension = path.split('.').pop()?.toLowerCase() ?? '';
    const imageType = IMAGE_TYPES[extension];
    if (imageType && size > IMAGE_PREVIEW_BYTES) {
      setPreview({ kind: 'none', why: 'This image is too large to preview; restore or download it.' });
      return;
    }
    client
      .call('snapshots.read', { repository, snapshot, path, offset: 0, length: imageType ? IMAGE_PREVIEW_BYTES : TEXT_PREVIEW_BYTES })
      .then((range) => {
        if (cancelled) return;
        const bytes = decode(range.data);
        if (imageType) {
          objectUrl = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: imageType }));
          setPreview({ kind: 'image', url: objectUrl });
          return;
        }
        if (bytes.includes(0)) {
          setPreview({ kind: 'none', why: 'No preview for this kind of file.' });
          return;
        }
        setPreview({ kind: 'text', text: new TextDecoder('utf-8', { fatal: false }).decode(bytes), truncated: range.size > bytes.length });
      })
      .catch((err: Error) => !cancelled && setPreview({ kind: 'none', why: err.message }));
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [client, repository, snapshot, path, size]);
  if (!preview) return <div className="preview muted">Loading preview…</div>;
  if (preview.kind === 'image') return <img className="preview preview-image" src={preview.url} alt={`Preview of ${path}`} />;
  if (preview.kind === 'none') return <div className="preview muted">{preview.why}</div>;
  return (
    <pre className="preview preview-text" aria-label="Preview">
      {preview.text}
      {preview.truncated && '\n…'}
    </pre>
  );
}
