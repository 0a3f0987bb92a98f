import type { DesktopBridge, SnapshotItem } from '../../../src-shared/client.js';

/**
 * Drag-to-restore in the desktop app, per row. The OS drag must start inside the dragstart event, but
 * the file must be restored first: so a row is prepared when the pointer goes down on it, shows that
 * it is, and only a ready row starts a drag. A drag of a row that is not ready yet is refused with a
 * sentence, never dropped silently.
 */
export type DragState = { readonly kind: 'preparing' } | { readonly kind: 'ready' } | { readonly kind: 'failed'; readonly message: string };

export type DragStart = { readonly started: true } | { readonly started: false; readonly notice: string };

export class DragRestore {
  private readonly states = new Map<string, DragState>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly desktop: DesktopBridge) {}

  state(item: SnapshotItem): DragState | undefined {
    return this.states.get(key(item));
  }

  /** Starts restoring `item` for a drag, unless it is being or has been prepared. */
  prepare(item: SnapshotItem, name: string): void {
    const current = this.states.get(key(item));
    if (current && current.kind !== 'failed') return;
    this.set(item, { kind: 'preparing' });
    this.desktop.prepareDrag(item).then(
      () => this.set(item, { kind: 'ready' }),
      (err: { message?: string }) => this.set(item, { kind: 'failed', message: `Could not restore ${name} for dragging: ${err.message ?? String(err)}` }),
    );
  }

  /** From the row's dragstart (whose default, the HTML drag, is always cancelled): the OS drag, or why not. */
  start(item: SnapshotItem, name: string): DragStart {
    const current = this.states.get(key(item));
    if (current?.kind === 'ready') {
      this.desktop.startDrag(item);
      return { started: true };
    }
    if (current?.kind === 'failed') return { started: false, notice: current.message };
    if (!current) this.prepare(item, name);
    return { started: false, notice: `${name} is still being restored for dragging; drag it again when its row says "Ready to drag".` };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(item: SnapshotItem, state: DragState): void {
    this.states.set(key(item), state);
    for (const listener of this.listeners) listener();
  }
}

function key(item: SnapshotItem): string {
  return JSON.stringify([item.repository, item.snapshot, item.path]);
}
