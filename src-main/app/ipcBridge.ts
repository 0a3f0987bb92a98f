import { BrowserWindow, dialog, ipcMain, type IpcMainEvent, type IpcMainInvokeEvent, type NativeImage, type WebFrameMain } from 'electron';
import type { AgentEvent } from '../../src-shared/api.js';
import { HindsightError } from '../../src-shared/errors.js';
import type { AgentHost } from './agentHost.js';
import type { DragRestorer } from './dragRestore.js';
import { checkCall, checkPickFolderOptions, checkSender, checkSnapshotItem } from './ipcValidation.js';

type Envelope = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

export interface IpcBridgeOptions {
  readonly agent: AgentHost;
  readonly drag: DragRestorer;
  readonly dragIcon: NativeImage;
}

/**
 * The renderer's only way out: four channels, each checking the sender frame
 * (our page, main frame) and the message (ipcValidation.ts) before the agent,
 * a dialog or a drag sees anything. Answers are envelopes, so the preload can
 * rethrow an error with its code.
 */
export function registerIpcBridge(options: IpcBridgeOptions): void {
  ipcMain.handle('hindsight:call', (event, method: unknown, params: unknown) =>
    answer(event, () => {
      const call = checkCall(method, params);
      return options.agent.request(call.method, call.params);
    }),
  );
  ipcMain.handle('hindsight:pickFolder', (event, raw: unknown) =>
    answer(event, async () => {
      const { title } = checkPickFolderOptions(raw);
      const window = BrowserWindow.fromWebContents(event.sender);
      const dialogOptions = { title: title ?? 'Choose a folder', properties: ['openDirectory', 'createDirectory'] as ('openDirectory' | 'createDirectory')[] };
      const picked = window ? await dialog.showOpenDialog(window, dialogOptions) : await dialog.showOpenDialog(dialogOptions);
      return picked.canceled ? undefined : picked.filePaths[0];
    }),
  );
  ipcMain.handle('hindsight:prepareDrag', (event, raw: unknown) =>
    answer(event, async () => {
      await options.drag.prepare(checkSnapshotItem(raw));
      return undefined;
    }),
  );
  ipcMain.on('hindsight:startDrag', (event: IpcMainEvent, raw: unknown) => {
    try {
      checkSender(frameOf(event.senderFrame));
      const file = options.drag.fileFor(checkSnapshotItem(raw));
      // Only what prepareDrag restored can be dragged: the renderer names a snapshot item, never a path on disk.
      if (file) event.sender.startDrag({ file, icon: options.dragIcon });
    } catch {
      // A drag that cannot start simply does not happen; there is no reply channel for a send.
    }
  });
}

/** Pushes the agent's events to every window showing our page. */
export function forwardEvents(agent: AgentHost): () => void {
  return agent.onEvent((event: AgentEvent) => {
    for (const window of BrowserWindow.getAllWindows()) {
      const frame = window.webContents.mainFrame;
      if (isOwn(frame)) window.webContents.send('hindsight:event', event);
    }
  });
}

async function answer(event: IpcMainInvokeEvent, work: () => unknown): Promise<Envelope> {
  try {
    checkSender(frameOf(event.senderFrame));
    return { ok: true, result: await work() };
  } catch (err) {
    const error = err instanceof HindsightError ? { code: err.code, message: err.message } : { code: 'E_INTERNAL', message: (err as Error)?.message ?? String(err) };
    return { ok: false, error };
  }
}

function frameOf(frame: WebFrameMain | null | undefined) {
  return frame ? { url: frame.url, isMainFrame: frame.parent === null } : undefined;
}

function isOwn(frame: WebFrameMain): boolean {
  try {
    checkSender(frameOf(frame));
    return true;
  } catch {
    return false;
  }
}
